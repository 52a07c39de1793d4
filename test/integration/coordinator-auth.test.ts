// A coordinator that requires a bearer token: unauthenticated and malformed calls get clear
// status codes and change nothing.
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type ServiceError,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import { WorkerGatewayClient } from '../../proto/index.js';
import { runCli } from '../support/processes.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('coordinator authentication', () => {
  let coordinator: Coordinator;
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-auth-'));
  const tokenFile = join(dir, 'token');
  const specFile = join(dir, 'spec.yaml');
  beforeAll(async () => {
    writeFileSync(tokenFile, 's3cret-token\n');
    writeFileSync(specFile, 'name: auth\nseeds: 2\n');
    coordinator = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      authToken: 's3cret-token',
    });
    void coordinator.run();
  });
  afterAll(() => coordinator.shutdown(1000));

  it('refuses the CLI without the token (exit 3) and with a wrong one, and accepts the right one', async () => {
    const none = await runCli(['sweep', 'submit', specFile, '--coordinator', coordinator.address]);
    expect(none.code).toBe(3);
    expect(none.output).toContain('bearer token');
    writeFileSync(join(dir, 'wrong'), 's3cret-tokem');
    const wrong = await runCli([
      'sweep',
      'submit',
      specFile,
      '--coordinator',
      coordinator.address,
      '--token-file',
      join(dir, 'wrong'),
    ]);
    expect(wrong.code).toBe(3);
    expect(coordinator.scheduler.registry.list()).toHaveLength(0);
    const ok = await runCli([
      'sweep',
      'submit',
      specFile,
      '--coordinator',
      coordinator.address,
      '--token-file',
      tokenFile,
    ]);
    expect(ok.code, ok.output).toBe(0);
    expect(coordinator.scheduler.registry.list()).toHaveLength(1);
  });

  it('refuses a worker stream without the token', async () => {
    const gw = new WorkerGatewayClient(coordinator.address, credentials.createInsecure());
    const call = gw.connect(new Metadata());
    const code = await new Promise<number>((resolve) => {
      call.on('error', (e: ServiceError) => resolve(e.code));
      call.on('data', () => resolve(-1));
    });
    call.write({
      hello: {
        worker_id: 'intruder',
        slots: 1,
        engines: [],
        version: '1',
        event_sink: '',
        devices: [],
        trials_per_gpu: 1,
      },
    });
    expect(code).toBe(status.UNAUTHENTICATED);
    gw.close();
    expect(coordinator.scheduler.workers).toBe(0);
  });

  it('answers undecodable request bytes with an error status and changes nothing', async () => {
    const Raw = makeGenericClientConstructor(
      {
        submitSweep: {
          path: '/phasesweep.v1.SweepService/SubmitSweep',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'Raw',
    );
    const raw = new Raw(coordinator.address, credentials.createInsecure());
    const md = new Metadata();
    md.set('authorization', 'Bearer s3cret-token');
    const err = await new Promise<ServiceError | null>((resolve) =>
      (
        raw as unknown as {
          submitSweep: (b: Buffer, m: Metadata, cb: (e: ServiceError | null) => void) => void;
        }
      ).submitSweep(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), md, (e) => resolve(e)),
    );
    raw.close();
    expect(err?.code).toBe(status.INTERNAL);
    expect(err?.details).toMatch(/deserializ/i);
    expect(coordinator.scheduler.registry.list()).toHaveLength(1);
  });
});
