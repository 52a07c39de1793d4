// The coordinator's gRPC surface on a real socket: bad requests get clear status codes and
// change nothing.
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import { SweepServiceClient, WorkerGatewayClient, type CoordinatorMessage } from '../../proto/index.js';

describe('coordinator gRPC', () => {
  let coordinator: Coordinator;
  let client: SweepServiceClient;
  beforeAll(async () => {
    coordinator = await Coordinator.create({ listen: '127.0.0.1:0', log: silentLogger });
    void coordinator.run();
    client = new SweepServiceClient(coordinator.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await coordinator.shutdown(1000);
  });

  const submit = (spec_text: string) =>
    new Promise<{ err: ServiceError | null; total?: number }>((resolve) =>
      client.submitSweep({ spec_text, source_name: 'x.yaml' }, new Metadata(), {}, (err, res) =>
        resolve({ err, total: res?.trials_total }),
      ),
    );

  it('answers an invalid spec with INVALID_ARGUMENT naming the field, and stores nothing', async () => {
    const r = await submit('name: ok\nseeds: 2\naxes: { weight_decay: [-1] }');
    expect(r.err?.code).toBe(status.INVALID_ARGUMENT);
    expect(r.err?.details).toContain('x.yaml: axes.weight_decay[0]');
    expect(coordinator.scheduler.registry.list()).toHaveLength(0);
  });

  it('answers an unknown sweep with NOT_FOUND', async () => {
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.getSweep({ sweep_id: 'nope' }, (e) => resolve(e)),
    );
    expect(err?.code).toBe(status.NOT_FOUND);
  });

  it('is idempotent: the same sweep twice adds nothing the second time', async () => {
    expect((await submit('name: twice\nseeds: 2')).total).toBe(2);
    const again = await new Promise<number | undefined>((resolve) =>
      client.submitSweep({ spec_text: 'name: twice\nseeds: 2', source_name: '' }, (_e, res) =>
        resolve(res?.trials_added),
      ),
    );
    expect(again).toBe(0);
  });

  it('closes a worker stream whose first message is not hello', async () => {
    const gw = new WorkerGatewayClient(coordinator.address, credentials.createInsecure());
    const call = gw.connect();
    const outcome = new Promise<string>((resolve) => {
      call.on('data', (m: CoordinatorMessage) => resolve(`data ${JSON.stringify(m)}`));
      call.on('error', (e: ServiceError) => resolve(`error ${e.code}`));
      call.on('end', () => resolve('end'));
    });
    call.write({ request: { count: 5 } });
    expect(await outcome).toBe(`error ${status.INVALID_ARGUMENT}`);
    gw.close();
    expect(coordinator.scheduler.leases.size).toBe(0);
  });
});
