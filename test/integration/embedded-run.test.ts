// `phasesweep run` on one machine: coordinator, local worker processes, DuckDB store, summary.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDuckDbStore } from '../../pipeline/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';
import { runCli, startCli } from '../support/processes.js';

const SPEC = `
name: embedded
seeds: 2
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 5 }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.5]
`;

describe('phasesweep run (embedded mode)', () => {
  it('runs every trial on local workers and stores one event per (trial, epoch)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-run-'));
    const specFile = join(dir, 'sweep.yaml');
    writeFileSync(specFile, SPEC);
    const { code, output } = await runCli(['run', specFile, '--workers', '2', '--dir', dir]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/sweep embedded: completed \(4 completed\)/);
    expect(output).toMatch(/weight_decay=0\.5\s+2\s+2\s+0\s+0/);

    const store = await openDuckDbStore(join(dir, 'embedded.duckdb'));
    try {
      const rows = await store.probeRows('embedded');
      const planned = expandSweep(parseSweepYaml(SPEC));
      expect(rows).toHaveLength(planned.length * 5);
      expect(new Set(rows.map((r) => `${r.trial_id}:${r.epoch}`)).size).toBe(rows.length);
      expect(new Set(rows.map((r) => r.trial_id))).toEqual(new Set(planned.map((t) => t.trialId)));
      for (const r of rows) expect(r.probes['loss']).toBeGreaterThan(0);
      const trials = await store.trials('embedded');
      expect(trials.map((t) => t.status).sort()).toEqual([
        'completed',
        'completed',
        'completed',
        'completed',
      ]);
      expect(trials[0]!.engine).toBe('wasm');
    } finally {
      await store.close();
    }
  });

  it('rejects a bad spec with exit code 2 naming the file and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-run-'));
    const specFile = join(dir, 'bad.yaml');
    writeFileSync(specFile, SPEC.replace('epochs: 5', 'epochs: zero'));
    const { code, output } = await runCli(['run', specFile, '--dir', dir]);
    expect(code).toBe(2);
    expect(output).toContain(`${specFile}: base.train.epochs:`);
  });

  it('resumes after Ctrl-C from the hand-over checkpoints, with the same results as an uninterrupted run', async () => {
    const spec = SPEC.replace('name: embedded', 'name: resumed').replace('epochs: 5', 'epochs: 600');
    const dirA = mkdtempSync(join(tmpdir(), 'phasesweep-run-'));
    const dirB = mkdtempSync(join(tmpdir(), 'phasesweep-run-'));
    for (const d of [dirA, dirB]) writeFileSync(join(d, 'sweep.yaml'), spec);
    const whole = await runCli(['run', join(dirA, 'sweep.yaml'), '--workers', '2', '--dir', dirA]);
    expect(whole.code, whole.output).toBe(0);

    // Ctrl-C reaches the whole foreground process group: the run and its local workers.
    const first = startCli(['run', join(dirB, 'sweep.yaml'), '--workers', '2', '--dir', dirB], {}, true);
    await first.waitFor(/epochs [1-9]\d{2,}\/2400/, 60_000);
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited).toBe(130);
    const again = await runCli(['run', join(dirB, 'sweep.yaml'), '--workers', '2', '--dir', dirB]);
    expect(again.code, again.output).toBe(0);
    expect(readFileSync(join(dirB, 'resumed.workers.log'), 'utf8')).toMatch(/resuming after epoch \d+/);

    const rows = async (dir: string) => {
      const store = await openDuckDbStore(join(dir, 'resumed.duckdb'));
      try {
        return (await store.probeRows('resumed')).map((r) => ({
          trial: r.trial_id,
          epoch: r.epoch,
          probes: r.probes,
        }));
      } finally {
        await store.close();
      }
    };
    const [a, b] = [await rows(dirA), await rows(dirB)];
    expect(b).toHaveLength(4 * 600);
    expect(b).toEqual(a);
  });
});
