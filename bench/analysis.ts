// `npm run bench:analysis`: the whole analysis (events, Dynp + PELT segmentation, families and
// their tests) on synthetic probe series, 10,000 trials × 1,000 epochs by default. Prints JSON.
import { parseArgs } from 'node:util';
import { analyseSeries, createRng, resolveAnalysisSpec, type TrialSeries } from '../analysis/index.js';
import { analyseSeriesParallel } from '../analysis/parallel.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10000' },
    epochs: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
  },
});
const nTrials = Number(values.trials);
const nEpochs = Number(values.epochs);
if (!Number.isInteger(nTrials) || nTrials < 1 || !Number.isInteger(nEpochs) || nEpochs < 30) {
  console.error('usage: bench/analysis.js [--trials N ≥ 1] [--epochs T ≥ 30] [--seed S]');
  process.exit(2);
}

const WEIGHT_DECAY = [0, 1e-4, 1e-3, 1e-2, 1e-1];
const NOISE = [0, 0.05, 0.1, 0.2];

/**
 * A trial with three regimes in log(rel_drift): a noisy plateau, an exponential fall, a low
 * noisy floor; the transitions come earlier with more weight decay. val_acc rises on a
 * sigmoid; eff_rank drops during alignment. Noise is autocorrelated like real probe series.
 */
function synthTrial(i: number, rng: () => number): TrialSeries {
  const wdIdx = i % WEIGHT_DECAY.length;
  const noiseIdx = Math.floor(i / WEIGHT_DECAY.length) % NOISE.length;
  const seed = Math.floor(i / (WEIGHT_DECAY.length * NOISE.length));
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const T = nEpochs;
  const b1 = Math.round(T * (0.3 - 0.04 * wdIdx + 0.03 * gauss()));
  const b2 = Math.round(b1 + T * (0.2 + 0.02 * gauss()));
  const tg = Math.round(T * (0.75 - 0.08 * wdIdx + 0.04 * gauss()));
  const relDrift = new Float64Array(T);
  const valAcc = new Float64Array(T);
  const effRank = new Float64Array(T);
  let ar = 0;
  for (let t = 0; t < T; t++) {
    ar = 0.8 * ar + 0.2 * gauss();
    const level = t < b1 ? -1.5 : t < b2 ? -1.5 - (3 * (t - b1)) / Math.max(1, b2 - b1) : -4.5;
    relDrift[t] = Math.exp(level + (0.3 + NOISE[noiseIdx]!) * ar);
    valAcc[t] = Math.min(1, 0.5 + 0.5 / (1 + Math.exp(-(t - tg) / (T * 0.02))) + 0.003 * gauss());
    effRank[t] = 40 - 25 / (1 + Math.exp(-(t - (b1 + b2) / 2) / (T * 0.03))) + 0.2 * gauss();
  }
  return {
    trial_id: `t${i}`,
    seed,
    axes: { weight_decay: WEIGHT_DECAY[wdIdx]!, noise: NOISE[noiseIdx]! },
    firstEpoch: 0,
    length: T,
    probes: new Map([
      ['rel_drift', relDrift],
      ['val_acc', valAcc],
      ['eff_rank', effRank],
    ]),
  };
}

const rng = createRng(Number(values.seed));
let t0 = performance.now();
const trials = Array.from({ length: nTrials }, (_, i) => synthTrial(i, rng));
const generateSeconds = (performance.now() - t0) / 1000;

const spec = resolveAnalysisSpec();
const threads = values.threads === undefined ? undefined : Number(values.threads);
t0 = performance.now();
const result =
  threads === 1 ? analyseSeries(trials, spec) : await analyseSeriesParallel(trials, spec, { threads });
const seconds = (performance.now() - t0) / 1000;

// The threaded path must agree with the sequential one: check a sample of trials.
const sample = trials.slice(0, Math.min(200, trials.length));
const seq = analyseSeries(sample, spec).trials;
if (JSON.stringify(seq) !== JSON.stringify(result.trials.slice(0, sample.length))) {
  console.error('threaded and sequential per-trial results differ');
  process.exit(1);
}

const observed: Record<string, number> = {};
for (const t of result.trials)
  for (const [k, e] of Object.entries(t.events)) observed[k] = (observed[k] ?? 0) + (e.observed ? 1 : 0);

console.log(
  JSON.stringify(
    {
      trials: nTrials,
      epochs: nEpochs,
      threads: threads ?? 'auto',
      seconds: Number(seconds.toFixed(3)),
      generate_seconds: Number(generateSeconds.toFixed(3)),
      families: result.families.length,
      observed_events: observed,
      segmented: result.trials.filter((t) => t.segments.dynp3 !== null).length,
    },
    null,
    2,
  ),
);
