// Planning arithmetic for a sweep, pure: the cost of a trial, and whether the seeds per arm can
// reach the analysis α at all.
import type { TrialConfig } from './trial-config.js';

/** Smallest two-sided exact Mann–Whitney p for samples of n1 and n2 with no ties: 2 / C(n1+n2, n1). */
export function minExactMannWhitneyP(n1: number, n2: number): number {
  let c = 1;
  for (let i = 1; i <= n1; i++) c = (c * (n2 + i)) / i;
  return Math.min(1, 2 / c);
}

function sequences(config: TrialConfig): {
  train: number;
  val: number;
  seqLen: number;
  vocab: number;
  classes: number;
} {
  const t = config.task;
  if (t.kind === 'clustered-tokens') {
    return { train: t.train_size, val: t.val_size, seqLen: t.seq_len, vocab: t.vocab, classes: t.clusters };
  }
  const pairs = t.modulus * t.modulus;
  const train = Math.round(pairs * t.train_fraction);
  return { train, val: pairs - train, seqLen: 3, vocab: t.modulus + 1, classes: t.modulus };
}

/**
 * Floating-point operations of one epoch: a training step (forward + backward ≈ 3 forward) and
 * the probes' forward passes over both splits. An estimate for planning, not a measurement.
 */
export function epochFlops(config: TrialConfig): number {
  const { train, val, seqLen: L, classes } = sequences(config);
  const { d_model: d, ffn, layers } = config.model;
  const perToken = layers * (2 * 4 * d * d + 2 * 2 * L * d + 2 * 2 * d * ffn);
  const forward = (n: number) => n * (L * perToken + 2 * d * classes);
  return 3 * forward(train) + forward(train) + forward(val);
}

export function trialEpochs(config: TrialConfig): number {
  const e = config.train.early_stop_epoch;
  return e === null ? config.train.epochs : Math.min(config.train.epochs, e + 1);
}
