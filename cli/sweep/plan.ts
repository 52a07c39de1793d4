import {
  epochFlops,
  expandSweep,
  loadSweepSpec,
  minExactMannWhitneyP,
  trialEpochs,
} from '../../spec/index.js';
import { parseFlags, usageError, type Command } from '../command.js';
import { table } from '../format.js';

const command: Command = {
  help: `Usage: phasesweep sweep plan SPEC.yaml [--json] [--alpha A] [--gflops G]

A dry run: validates the spec and prints its trials, their count, the estimated epoch-hours,
and a warning when the seeds per arm cannot reach the analysis α.
  --alpha   significance level of the planned analysis (default 0.05)
  --gflops  sustained GFLOP/s of one worker, for the time estimate (default 8: wasm, one core)
  --json    {"sweep","count","epochs","epoch_hours","min_p","warnings","trials":[{trial_id,seed,axes}]}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      json: { type: 'boolean' },
      alpha: { type: 'string', default: '0.05' },
      gflops: { type: 'string', default: '8' },
    });
    const file = positionals[0];
    if (file === undefined) throw usageError('sweep plan: missing SPEC.yaml');
    const alpha = Number(values.alpha);
    const gflops = Number(values.gflops);
    if (!(alpha > 0 && alpha < 1))
      throw usageError(`--alpha: expected a number in (0, 1), got "${values.alpha}"`);
    if (!(gflops > 0)) throw usageError(`--gflops: expected a positive number, got "${values.gflops}"`);
    const spec = await loadSweepSpec(file);
    const trials = expandSweep(spec);
    const epochs = trials.reduce((n, t) => n + trialEpochs(t.config), 0);
    const seconds = trials.reduce(
      (s, t) => s + (trialEpochs(t.config) * epochFlops(t.config)) / (gflops * 1e9),
      0,
    );
    const seedsPerArm = Array.isArray(spec.seeds) ? spec.seeds.length : spec.seeds;
    const minP = minExactMannWhitneyP(seedsPerArm, seedsPerArm);
    const warnings: string[] = [];
    if (minP > alpha) {
      warnings.push(
        `${seedsPerArm} seeds per arm: the smallest exact two-sided Mann–Whitney p is ${minP.toPrecision(3)} > α = ${alpha}; ` +
          `no pairwise comparison can be significant (use ≥ ${seedsNeeded(alpha)} seeds)`,
      );
    }
    if (values.json) {
      const out = {
        sweep: spec.name,
        count: trials.length,
        epochs,
        epoch_hours: seconds / 3600,
        min_p: minP,
        warnings,
        trials: trials.map((t) => ({ trial_id: t.trialId, seed: t.seed, axes: t.axes })),
      };
      io.stdout.write(JSON.stringify(out, null, 1) + '\n');
      return;
    }
    const axes = Object.keys(spec.axes);
    io.stdout.write(
      table(
        ['trial', 'seed', ...axes, 'epochs'],
        trials.map((t) => [
          t.trialId,
          t.seed,
          ...axes.map((a) => JSON.stringify(t.axes[a])),
          trialEpochs(t.config),
        ]),
      ),
    );
    io.stdout.write(
      `\n${trials.length} trials (${trials.length / seedsPerArm} arms × ${seedsPerArm} seeds), ${epochs} epochs, ` +
        `≈ ${(seconds / 3600).toFixed(2)} worker-hours at ${gflops} GFLOP/s\n`,
    );
    for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  },
};

function seedsNeeded(alpha: number): number {
  let n = 2;
  while (minExactMannWhitneyP(n, n) > alpha) n++;
  return n;
}

export default command;
