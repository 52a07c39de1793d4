// `phasesweep run` with a command trainer: the spawned CLI, its local worker processes and the
// Node test trainer, with the trainer's cwd given relative to the spec file.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDuckDbStore } from '../../pipeline/index.js';
import { runCli } from '../support/processes.js';
import { TOY_TRAINER } from './trainer-harness.js';

describe('phasesweep run with a command trainer', () => {
  it('runs every trial through the command and stores one event per epoch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-byo-'));
    mkdirSync(join(dir, 'trainer'));
    for (const f of ['toy.mjs', 'protocol.mjs'])
      copyFileSync(join(dirname(TOY_TRAINER), f), join(dir, 'trainer', f));
    const specFile = join(dir, 'sweep.yaml');
    writeFileSync(
      specFile,
      `
name: byo
seeds: 2
base:
  trainer: { command: [${JSON.stringify(process.execPath)}, toy.mjs], cwd: trainer }
  params: { V: 16, d: 4 }
  train: { epochs: 5, lr: 0.05 }
axes:
  weight_decay: [0, 0.5]
`,
    );
    const { code, output } = await runCli(['run', specFile, '--workers', '2', '--dir', dir]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/sweep byo: completed \(4 completed\)/);

    const store = await openDuckDbStore(join(dir, 'byo.duckdb'));
    try {
      const rows = await store.probeRows('byo');
      expect(rows).toHaveLength(4 * 5);
      expect(new Set(rows.map((r) => `${r.trial_id}:${r.epoch}`)).size).toBe(20);
      for (const r of rows) {
        expect(r.probes['loss']).toBeGreaterThan(0);
        expect(r.probes['eff_rank']).toBeGreaterThan(0);
        expect(r.probes['noise_sensitivity']).toBeGreaterThan(0);
      }
      const trials = await store.trials('byo');
      expect(trials.map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
      expect(trials.every((t) => t.engine === 'command')).toBe(true);
    } finally {
      await store.close();
    }
    const log = readFileSync(join(dir, 'byo.workers.log'), 'utf8');
    // The trainer ran in the folder named relative to the spec file, its output in the worker log.
    expect(log).toMatch(/attempt 1 stdout: toy trainer attempt 1: epochs 0…4 on cpu/);
    expect(log).toContain(`cwd=${join(dir, 'trainer')}`);
  });
});
