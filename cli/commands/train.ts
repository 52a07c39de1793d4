// `phasesweep train`: one trial of a sweep spec on this machine, without a coordinator.
// Writes one JSON line per probed epoch and prints a short summary.
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { expandSweep, loadSweepSpec, replicateSeeds, type TrialConfig } from '../../spec/index.js';
import { createEngine, runTrial } from '../../worker/training/index.js';
import { EXIT, intFlag, parseFlags, usageError, type Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep train SPEC.yaml [--seed N] [--out FILE] [--engine NAME] [--epochs N] [--trial-index I]

Trains one trial of a sweep spec here and writes its probe events as JSON lines
{"epoch", "seed", …probes}.
  --trial-index  which trial of the expanded sweep (axes × seeds, as \`phasesweep sweep plan\` lists them);
                 without it, the spec's base config (no axis applied)
  --seed         the trial seed (default: the trial's, or the spec's first replicate seed)
  --out          events file (default: standard output, with the summary on standard error)
  --engine       auto, wasm, cpu, webgpu, tensorflow, tensorflow-gpu (default: the config's engine)
  --epochs       override train.epochs`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      seed: { type: 'string' },
      out: { type: 'string' },
      engine: { type: 'string' },
      epochs: { type: 'string' },
      'trial-index': { type: 'string' },
    });
    if (positionals.length !== 1) throw usageError('expected exactly one spec file');
    const spec = await loadSweepSpec(positionals[0]!);
    let config: TrialConfig = spec.base;
    let seed = replicateSeeds(spec)[0]!;
    if (values['trial-index'] !== undefined) {
      const trials = expandSweep(spec);
      const i = intFlag('trial-index', values['trial-index'], 0);
      const trial = trials[i];
      if (!trial)
        throw usageError(`--trial-index: the sweep has ${trials.length} trials (0…${trials.length - 1})`);
      config = trial.config;
      seed = trial.seed;
    }
    seed = intFlag('seed', values.seed, seed);
    if (values.epochs !== undefined) {
      config = { ...config, train: { ...config.train, epochs: intFlag('epochs', values.epochs, 1, 1) } };
    }
    const engine = await createEngine(values.engine ?? config.engine);
    const file: WriteStream | null = values.out !== undefined ? createWriteStream(values.out) : null;
    const events = file ?? io.stdout;
    const report = file ? io.stdout : io.stderr;
    report.write(
      `training seed ${seed} on ${engine.info.engine} (${engine.info.backend}${engine.info.simd ? ', SIMD' : ''})\n`,
    );
    const t0 = performance.now();
    let last: Record<string, number | null> = {};
    const result = await runTrial({
      config,
      seed,
      engine,
      signal: io.signal,
      onEpoch: async (rec) => {
        last = { epoch: rec.epoch, ...rec.probes };
        // Honour back-pressure: a slow disk or pipe holds training back instead of buffering.
        if (!events.write(`${JSON.stringify({ epoch: rec.epoch, seed, ...rec.probes })}\n`)) {
          await once(events, 'drain');
        }
      },
    });
    if (file) {
      file.end();
      await once(file, 'finish');
    }
    const secs = (performance.now() - t0) / 1000;
    const fmt = (v: number | null | undefined) => (typeof v === 'number' ? v.toPrecision(4) : 'n/a');
    report.write(
      `${result.status} after ${result.epochs} epochs in ${secs.toFixed(1)} s` +
        `${result.reason ? ` (${result.reason})` : ''}; last epoch: loss ${fmt(last['loss'])}, ` +
        `val_acc ${fmt(last['val_acc'])}, rel_drift ${fmt(last['rel_drift'])}, eff_rank ${fmt(last['eff_rank'])}\n`,
    );
    return result.status === 'aborted' ? EXIT.interrupted : EXIT.ok;
  },
};
export default command;
