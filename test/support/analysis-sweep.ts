// A small synthetic sweep as the stores hold it (probe and trial events) and as the analysis
// reads it (rows with decoded axes), so a store reader can be checked against analyzeRows.
import { PassThrough } from 'node:stream';
import type { AnalysisRow } from '../../analysis/index.js';
import { exitCodeFor } from '../../cli/command.js';
import analyze from '../../cli/commands/analyze.js';
import { ProbeEvent, TrialEvent } from '../../proto/index.js';

export interface SyntheticSweep {
  probes: ProbeEvent[];
  trials: TrialEvent[];
  /** What the store should give back: latest attempts only, trials by id, epochs in order. */
  rows: AnalysisRow[];
}

const WEIGHT_DECAY = [0, 0.1, 1];
const NOISE = [0, 0.5];
const SEEDS = [11, 12, 13];
const EPOCHS = 40;

/** Deterministic noise in [0, 1) from integers, so the fixture is the same everywhere. */
function hash01(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) h = Math.imul(h ^ (x * 2654435761), 16777619) >>> 0;
  return (h >>> 8) / 16777216;
}

export function syntheticSweep(sweepId: string): SyntheticSweep {
  const probes: ProbeEvent[] = [];
  const trials: TrialEvent[] = [];
  const rows: AnalysisRow[] = [];
  WEIGHT_DECAY.forEach((wd, i) => {
    NOISE.forEach((noise, j) => {
      for (const seed of SEEDS) {
        const trialId = `t-wd${i}-n${j}-s${seed}`;
        // Generalisation comes earlier with more weight decay; one arm never gets there (censored).
        const tau = i === 0 && j === 1 && seed === 13 ? 99 : 28 - 7 * i + 2 * j + (seed % 3);
        const attempt = seed === 12 ? 2 : 1;
        if (attempt === 2) {
          // A first attempt that a retry overwrote: none of it may reach the analysis.
          for (let e = 0; e < 10; e++) {
            probes.push(
              ProbeEvent.fromPartial({
                sweep_id: sweepId,
                trial_id: trialId,
                epoch: e,
                attempt: 1,
                seed,
                loss: 99,
                val_acc: 1,
              }),
            );
          }
        }
        for (let e = 0; e < EPOCHS; e++) {
          const r = hash01(i, j, seed, e);
          const values = {
            loss: 2 * Math.exp(-e / 10) + 0.01 * r,
            train_acc: Math.min(1, e / 10),
            val_acc: e >= tau ? 1 : 0.3 + 0.01 * r,
            rel_drift: Math.exp(-e / (6 + 2 * i)) * (1 + 0.2 * r) + 1e-4,
            eff_rank: 10 - 6 / (1 + Math.exp(-(e - 15 - 3 * j))) + 0.05 * r,
          };
          probes.push(
            ProbeEvent.fromPartial({
              sweep_id: sweepId,
              trial_id: trialId,
              epoch: e,
              attempt,
              seed,
              time_ms: 1_700_000_000_000 + e,
              engine: 'tfjs',
              backend: 'wasm',
              worker_id: 'w1',
              ...values,
            }),
          );
          rows.push({ trial_id: trialId, seed, epoch: e, axes: { noise, weight_decay: wd }, probes: values });
        }
        trials.push(
          TrialEvent.fromPartial({
            sweep_id: sweepId,
            trial_id: trialId,
            sweep_name: sweepId,
            attempt,
            status: 'completed',
            seed,
            config_json: '{}',
            // JSON texts, as the scheduler writes them.
            axes: { weight_decay: JSON.stringify(wd), noise: JSON.stringify(noise) },
            epochs: EPOCHS,
          }),
        );
      }
    });
  });
  rows.sort((a, b) => (a.trial_id < b.trial_id ? -1 : a.trial_id > b.trial_id ? 1 : a.epoch - b.epoch));
  return { probes, trials, rows };
}

/** `phasesweep analyze ARGV` in-process: exit code and both streams (errors go to stderr). */
export async function runAnalyze(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on('data', (c: Buffer) => o.push(c));
  err.on('data', (c: Buffer) => e.push(c));
  let code: number;
  try {
    code = (await analyze.run(argv, { stdout: out, stderr: err, signal: new AbortController().signal })) ?? 0;
  } catch (error) {
    code = exitCodeFor(error);
    e.push(Buffer.from((error as Error).message));
  }
  return { code, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() };
}
