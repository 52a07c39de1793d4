// SIGKILL a worker mid-trial: the lease expires, another worker resumes the trial from its last
// checkpoint (attempt 2), and the final probe series equals an uninterrupted run's, bit for bit.
import { afterAll, describe, expect, inject, it } from 'vitest';
import { expandSweep, parseSweepYaml, PROBE_NAMES, type ProbeValues } from '../../spec/index.js';
import { createEngine, runTrial } from '../../worker/training/index.js';
import { TestCluster } from '../support/cluster.js';

const EPOCHS = 1500;
const SPEC = `
name: crash
seeds: [11]
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${EPOCHS}, lr: 0.01, noise: 0.05 }
  probes: { probe_set: 8 }
`;

describe('a worker killed mid-trial', () => {
  const cluster = new TestCluster({
    natsUrl: inject('natsUrl'),
    clickhouseUrl: inject('clickhouseUrl'),
    leaseTtlMs: 2000,
  });
  afterAll(() => cluster.stop());

  it('is replaced: the trial resumes from its checkpoint elsewhere and its series is unchanged', async () => {
    await cluster.startCoordinator();
    cluster.startIngester();
    const a = cluster.startWorker('A', ['--checkpoint-every', '100']);
    await cluster.submit(SPEC);
    const mid = await cluster.waitFor('crash', (s) => (s.trials[0]?.epoch ?? 0) >= 450);
    expect(mid.trials[0]!.worker_id).toBe('A');
    await a.stop('SIGKILL');

    const b = cluster.startWorker('B', ['--checkpoint-every', '100']);
    const done = await cluster.waitFor('crash', (s) => s.state !== 'running');
    expect(done.state).toBe('completed');
    expect(done.trials[0]).toMatchObject({ attempt: 2, worker_id: 'B', state: 'completed' });
    const resumed = (await b.waitFor(/resuming after epoch (\d+)/))[1]!;
    expect(Number(resumed)).toBeGreaterThanOrEqual(399);

    const rows = await cluster.probeRows(EPOCHS);
    expect(rows.map((r) => Number(r['epoch']))).toEqual([...Array(EPOCHS).keys()]);
    expect(rows.some((r) => Number(r['attempt']) === 1) && rows.some((r) => Number(r['attempt']) === 2)).toBe(
      true,
    );

    const planned = expandSweep(parseSweepYaml(SPEC))[0]!;
    const expected: ProbeValues[] = [];
    await runTrial({
      config: planned.config,
      seed: planned.seed,
      engine: await createEngine('wasm'),
      onEpoch: (r) => void expected.push(r.probes),
    });
    for (const [epoch, row] of rows.entries()) {
      for (const name of PROBE_NAMES) {
        const want = expected[epoch]![name];
        expect(row[name], `epoch ${epoch} ${name}`).toBe(
          want === undefined || (typeof want === 'number' && !Number.isFinite(want)) ? null : want,
        );
      }
    }
  });
});
