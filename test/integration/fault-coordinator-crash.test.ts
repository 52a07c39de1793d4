// SIGKILL the coordinator mid-sweep and start it again on the same address: it recovers every
// sweep and trial from JetStream KV, the workers re-attach the leases they hold, the sweep
// completes, and no trial completes twice.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TestCluster } from '../support/cluster.js';

const EPOCHS = 500;
const SPEC = `
name: recover
seeds: 3
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${EPOCHS} }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.1]
`;

describe('a coordinator killed mid-sweep', () => {
  const cluster = new TestCluster({
    natsUrl: inject('natsUrl'),
    clickhouseUrl: inject('clickhouseUrl'),
    leaseTtlMs: 6000,
  });
  afterAll(() => cluster.stop());

  it('recovers its state; the sweep completes with each trial completed exactly once', async () => {
    const first = await cluster.startCoordinator();
    const port = Number(cluster.address.split(':')[1]);
    cluster.startIngester();
    cluster.startWorker('A');
    cluster.startWorker('B');
    await cluster.submit(SPEC);
    const before = await cluster.waitFor(
      'recover',
      (s) => (s.trials_by_state['completed'] ?? 0) >= 2 && (s.trials_by_state['leased'] ?? 0) >= 1,
    );
    await first.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    const second = await cluster.startCoordinator(port);
    await second.waitFor(/recovered 1 sweeps, 6 trials, [1-4] live leases/);

    const done = await cluster.waitFor('recover', (s) => s.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.trials_by_state['completed']).toBe(6);
    // Trials done before the crash stayed done; running ones were re-attached, not re-run.
    for (const t of before.trials.filter((t) => t.state === 'completed')) {
      expect(done.trials.find((d) => d.trial_id === t.trial_id)!.attempt).toBe(t.attempt);
    }
    expect(done.trials.every((t) => t.attempt === 1)).toBe(true);

    const events = await cluster.trialEvents();
    for (const t of done.trials) {
      expect(
        events.filter((e) => e.trial_id === t.trial_id && e.status === 'completed'),
        t.trial_id,
      ).toHaveLength(1);
    }
    const rows = await cluster.probeRows(6 * EPOCHS);
    expect(rows).toHaveLength(6 * EPOCHS);
    expect(new Set(rows.map((r) => `${String(r['trial_id'])}:${String(r['epoch'])}`)).size).toBe(6 * EPOCHS);
  });
});
