// The optimisation work of one epoch: a full-batch gradient (applied by the caller, which may
// first emit the previous epoch's event) or a pass of minibatch steps over a fresh permutation.
import * as tf from '@tensorflow/tfjs';
import type { TrialConfig } from '../../spec/index.js';
import type { AdamW } from './adamw.js';
import { gradients, uploadChunks, type ParamSet } from './compute.js';
import { disposeBatch, type ModelDims, type TokenBatch } from './model.js';
import type { Rng } from './rng.js';
import type { Dataset } from './tasks.js';

export interface EpochContext {
  train: TokenBatch[];
  dims: ModelDims;
  data: Dataset;
  epoch: number;
  probeNow: boolean;
  noiseRng: Rng;
  orderRng: Rng;
  config: TrialConfig;
}

export interface EpochStep {
  /** Mean training cross-entropy of the epoch's forward passes. */
  loss: number;
  /** Sequences the (full-batch) forward classified correctly; null for minibatches. */
  correct: number | null;
  /** Gradient w.r.t. the embedding (probe epochs only). */
  gEmb: Float32Array | null;
  /** Σ‖g‖² over the other parameters (probe epochs only). */
  otherGradSq: number;
}

export function readMatrix(v: tf.Tensor): Float32Array {
  return (v.dataSync() as Float32Array).slice();
}

export function isFullBatch(config: TrialConfig, nTrain: number): boolean {
  const bs = config.train.batch_size;
  return bs === null || bs >= nTrain;
}

export function weightDecayAt(config: TrialConfig, epoch: number): number {
  const tc = config.train;
  return epoch >= tc.weight_decay_start_epoch ? tc.weight_decay : 0;
}

/**
 * A full-batch gradient, read back, not yet applied, with the pooled rows of the first
 * `keepRows` sequences when the forward was clean: the caller owns and disposes `grads` and
 * `rows`.
 */
export function fullBatchGradients(
  p: ParamSet,
  ctx: EpochContext,
  keepRows = 0,
): EpochStep & { grads: tf.Tensor[]; rows: tf.Tensor2D | null } {
  const n = ctx.data.nTrain;
  const g = gradients(p, ctx.train, ctx.dims, n, ctx.config.train.noise, ctx.noiseRng, keepRows);
  const out = summarise(g.lossSum, g.correct, g.grads, n, ctx.probeNow);
  tf.dispose([g.lossSum, g.correct]);
  return { ...out, grads: g.grads, rows: g.rows };
}

/**
 * One epoch of minibatch steps over a fresh permutation. G_t is the size-weighted mean of the
 * epoch's minibatch gradients.
 */
export function minibatchEpoch(p: ParamSet, opt: AdamW, ctx: EpochContext): EpochStep {
  const { config, dims, data } = ctx;
  const tc = config.train;
  const bs = tc.batch_size!;
  const wd = weightDecayAt(config, ctx.epoch);
  const n = data.nTrain;
  const order = ctx.orderRng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const L = dims.seqLen;
  let lossSum: tf.Scalar = tf.scalar(0);
  let meanGrads: tf.Tensor[] | null = null;
  for (let s = 0; s < n; s += bs) {
    const idx = order.subarray(s, Math.min(n, s + bs));
    const x = new Int32Array(idx.length * L);
    const y = new Int32Array(idx.length);
    idx.forEach((row, i) => {
      x.set(data.trainX.subarray(row * L, (row + 1) * L), i * L);
      y[i] = data.trainY[row]!;
    });
    const chunks = uploadChunks(x, y, dims);
    const g = gradients(p, chunks, dims, idx.length, tc.noise, ctx.noiseRng);
    chunks.forEach(disposeBatch);
    if (ctx.probeNow) {
      const w = idx.length / n;
      const prev: tf.Tensor[] | null = meanGrads;
      meanGrads = g.grads.map((t, i): tf.Tensor =>
        tf.tidy(() => (prev ? tf.add(prev[i]!, tf.mul(t, w)) : tf.mul(t, w))),
      );
      if (prev) tf.dispose(prev);
    }
    opt.apply(g.grads, tc.lr, wd);
    const prevLoss = lossSum;
    lossSum = tf.add<tf.Scalar>(prevLoss, g.lossSum);
    tf.dispose([prevLoss, g.lossSum, g.correct, ...g.grads]);
  }
  const out = summarise(lossSum, null, meanGrads ?? [], n, ctx.probeNow);
  tf.dispose([lossSum, ...(meanGrads ?? [])]);
  return out;
}

/** Loss, correct count and gradient norms in one readback; G_t only on probe epochs. */
function summarise(
  lossSum: tf.Scalar,
  correct: tf.Scalar | null,
  grads: tf.Tensor[],
  n: number,
  probeNow: boolean,
): EpochStep {
  const withGrads = probeNow && grads.length > 0;
  const stats = tf.tidy(() => {
    const parts: tf.Scalar[] = [lossSum, correct ?? tf.scalar(0)];
    if (withGrads) parts.push(tf.addN(grads.slice(1).map((g) => tf.sum(tf.square(g)))) as tf.Scalar);
    return tf.stack(parts);
  });
  const v = stats.dataSync();
  stats.dispose();
  return {
    loss: v[0]! / n,
    correct: correct ? v[1]! : null,
    gEmb: withGrads ? readMatrix(grads[0]!) : null,
    otherGradSq: withGrads ? v[2]! : 0,
  };
}
