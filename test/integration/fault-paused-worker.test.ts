// SIGSTOP a worker past its lease, then SIGCONT: the trial has been re-leased to another worker
// meanwhile; the woken worker's result is refused, and any probe event it still publishes after
// the new lease is fenced at the ingester, never written.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const SPEC = `
name: paused
seeds: [5]
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 1500 }
  probes: { probe_set: 8 }
`;

describe('a worker paused past its lease', () => {
  const cluster = new TestCluster({
    natsUrl: inject('natsUrl'),
    clickhouseUrl: inject('clickhouseUrl'),
    leaseTtlMs: 2000,
  });
  afterAll(() => cluster.stop());

  it('loses the trial and writes nothing after waking up', async () => {
    await cluster.startCoordinator();
    const ingester = cluster.startIngester();
    const a = cluster.startWorker('A');
    await cluster.submit(SPEC);
    await cluster.waitFor('paused', (s) => (s.trials[0]?.epoch ?? 0) >= 200);
    a.child.kill('SIGSTOP');
    const b = cluster.startWorker('B');
    await cluster.waitFor('paused', (s) => s.trials[0]?.attempt === 2 && s.trials[0].worker_id === 'B');
    await b.waitFor(/attempt 2: training/);
    a.child.kill('SIGCONT');

    const done = await cluster.waitFor('paused', (s) => s.state !== 'running');
    expect(done.trials[0]).toMatchObject({ state: 'completed', attempt: 2, worker_id: 'B' });
    await a.waitFor(/lease_lost, aborting/);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await cluster.trialEvents()).filter((e) => e.status === 'completed')).toHaveLength(1);

    // In stream order: attempt-1 events after the attempt-2 lease are late; none may be written.
    const nc = await cluster.streamInOrder();
    const leasedAt = nc.findIndex(
      (m) => m.kind === 'trial' && m.trial!.status === 'leased' && m.trial!.attempt === 2,
    );
    const late = nc.slice(leasedAt).filter((m) => m.kind === 'probe' && m.probe!.attempt === 1).length;
    await ingester.stop('SIGTERM');
    const stats = JSON.parse(/\{"ingested".*\}/.exec(ingester.output())![0]) as { fenced: number };
    expect(stats.fenced).toBe(late);
    const rows = await cluster.probeRows(1500);
    expect(rows.filter((r) => Number(r['attempt']) === 1).every((r) => Number(r['epoch']) < 1500)).toBe(true);
    expect(rows).toHaveLength(1500);
  });
});
