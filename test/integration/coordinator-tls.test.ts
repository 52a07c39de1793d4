// TLS between the CLI and a coordinator: with the CA the call goes through; without it, a
// plaintext client cannot talk to the TLS port.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import { runCli } from '../support/processes.js';

describe('coordinator over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let coordinator: Coordinator;

  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1: it is its own CA.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    writeFileSync(join(dir, 'spec.yaml'), 'name: tls\nseeds: 2\n');
    coordinator = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      tls: { cert: readFileSync(cert), key: readFileSync(key) },
    });
    void coordinator.run();
  });
  afterAll(() => coordinator.shutdown(1000));

  it('accepts a client that trusts its certificate', async () => {
    const r = await runCli([
      'sweep',
      'submit',
      join(dir, 'spec.yaml'),
      '--coordinator',
      coordinator.address,
      '--tls-ca',
      cert,
    ]);
    expect(r.code, r.output).toBe(0);
    expect(coordinator.scheduler.registry.list()).toHaveLength(1);
  });

  it('is unreachable for a plaintext client (exit 3)', async () => {
    const r = await runCli(['sweep', 'list', '--coordinator', coordinator.address]);
    expect(r.code).toBe(3);
  });
});
