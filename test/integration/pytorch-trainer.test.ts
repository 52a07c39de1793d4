// The PyTorch example (examples/pytorch/train.py, the Python client) as a real command trainer,
// in cluster mode through NATS → ingester → ClickHouse: its worker is SIGKILLed mid-trial, the
// trainer does not outlive it, another worker resumes from the trainer's checkpoint, and the
// whole probe series equals an uninterrupted embedded run of the same trial, bit for bit.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { openDuckDbStore } from '../../pipeline/index.js';
import { PROBE_NAMES } from '../../spec/index.js';
import { TestCluster } from '../support/cluster.js';
import { runCli } from '../support/processes.js';

const EPOCHS = 120;
const dir = mkdtempSync(join(tmpdir(), 'phasesweep-torch-'));
copyFileSync(resolve('examples/pytorch/train.py'), join(dir, 'train.py'));

const spec = (name: string) => `
name: ${name}
seeds: [5]
base:
  trainer:
    command: [python3, train.py]
    cwd: ${JSON.stringify(dir)}
    env: { PYTHONPATH: ${JSON.stringify(resolve('clients/python'))}, OMP_NUM_THREADS: '1' }
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${EPOCHS}, lr: 0.01, weight_decay: 0.1, noise: 0.05 }
  probes: { probe_set: 8 }
`;

/** Live processes running this test's copy of train.py. */
function trainers(): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readlinkSync(`/proc/${p}/cwd`) !== dir) continue;
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('train.py')) pids.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('the PyTorch example as a command trainer', () => {
  const cluster = new TestCluster({
    natsUrl: inject('natsUrl'),
    clickhouseUrl: inject('clickhouseUrl'),
    leaseTtlMs: 2000,
  });
  afterAll(() => cluster.stop());

  it('resumes after its worker is SIGKILLed, bit-identical to an uninterrupted run', async () => {
    // The uninterrupted reference: embedded mode, DuckDB.
    writeFileSync(join(dir, 'whole.yaml'), spec('torch-whole'));
    const whole = await runCli([
      'run',
      join(dir, 'whole.yaml'),
      '--workers',
      '1',
      '--dir',
      dir,
      '--http',
      'off',
    ]);
    expect(whole.code, whole.output).toBe(0);
    const store = await openDuckDbStore(join(dir, 'torch-whole.duckdb'));
    const reference = await store.probeRows('torch-whole');
    await store.close();
    expect(reference).toHaveLength(EPOCHS);

    await cluster.startCoordinator();
    cluster.startIngester();
    const a = cluster.startWorker('A', ['--checkpoint-every', '10']);
    await cluster.submit(spec('torch-crash'));
    await cluster.waitFor('torch-crash', (s) => (s.trials[0]?.epoch ?? 0) >= 45);
    expect(trainers()).toHaveLength(1);
    await a.stop('SIGKILL');
    // Its trainer sees fd 3 close and exits: nothing outlives the worker.
    const deadline = Date.now() + 10_000;
    while (trainers().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(trainers()).toEqual([]);

    const b = cluster.startWorker('B', ['--checkpoint-every', '10']);
    const done = await cluster.waitFor('torch-crash', (s) => s.state !== 'running', 180_000);
    expect(done.state).toBe('completed');
    expect(done.trials[0]).toMatchObject({ attempt: 2, worker_id: 'B', state: 'completed' });
    expect(Number((await b.waitFor(/resuming after epoch (\d+)/))[1])).toBeGreaterThanOrEqual(39);

    const rows = await cluster.probeRows(EPOCHS);
    expect(rows.map((r) => Number(r['epoch']))).toEqual([...Array(EPOCHS).keys()]);
    expect(new Set(rows.map((r) => Number(r['attempt'])))).toEqual(new Set([1, 2]));
    for (const [epoch, row] of rows.entries()) {
      const want = reference[epoch]!;
      for (const name of PROBE_NAMES)
        expect(row[name], `epoch ${epoch} ${name}`).toBe(want.probes[name] ?? null);
    }
    // Every probe the worker computes from the trainer's matrices is there.
    for (const name of [
      'rel_drift',
      'eff_rank',
      'cka_prev',
      'noise_sensitivity',
      'cluster_purity',
      'val_acc',
    ])
      expect(rows[EPOCHS - 1]![name], name).toEqual(expect.any(Number));
    expect(trainers()).toEqual([]);
  });
});
