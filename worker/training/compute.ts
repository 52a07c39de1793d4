// The tensor work of an epoch: summed gradients over memory-bounded chunks (with the forward's
// accuracy), and the evaluation passes behind train/val accuracy and noise sensitivity.
import * as tf from '@tensorflow/tfjs';
import {
  crossEntropySum,
  disposeBatch,
  logits,
  pooled,
  uploadBatch,
  type ModelDims,
  type ParamMap,
  type TokenBatch,
} from './model.js';
import type { Rng } from './rng.js';

/**
 * Tokens per forward/backward pass. Accumulating over chunks bounds the wasm heap (capped at
 * 4 GiB, never shrinks). 16k tokens is 1024 sequences at L = 16 and 512 at L = 32, within the
 * 512–1024 sequences measured to keep the heap under 1 GiB; counting tokens rather than
 * sequences gives short sequences fewer, larger chunks, which amortise per-chunk work (score
 * tables, per-op overhead).
 */
export const CHUNK_TOKENS = 16384;

export function uploadChunks(
  x: Int32Array,
  y: Int32Array,
  dims: ModelDims,
  chunk = Math.max(1, Math.floor(CHUNK_TOKENS / dims.seqLen)),
): TokenBatch[] {
  const out: TokenBatch[] = [];
  const L = dims.seqLen;
  for (let s = 0; s < y.length; s += chunk) {
    const e = Math.min(y.length, s + chunk);
    out.push(uploadBatch(x.subarray(s * L, e * L), y.subarray(s, e), dims));
  }
  return out;
}

export interface ParamSet {
  names: string[];
  vars: tf.Variable[];
}

export function paramMap(p: ParamSet): ParamMap {
  const map: ParamMap = {};
  p.names.forEach((n, i) => (map[n] = p.vars[i]!));
  return map;
}

export interface Gradients {
  /** Σ cross-entropy over the sequences (device scalar). */
  lossSum: tf.Scalar;
  /** How many sequences the forward pass classifies correctly (device scalar). */
  correct: tf.Scalar;
  /** ∂(lossSum / denom)/∂θ in parameter order. */
  grads: tf.Tensor[];
  /** The clean pooled rows h(x) of the first `keepRows` sequences (null with input noise). */
  rows: tf.Tensor2D | null;
}

/**
 * Collects the pooled rows h(x) of the first `want` sequences over consecutive chunks: the
 * probe set is the head of the training split, so the forward that yields train_acc yields
 * the probe set's clean representation too.
 */
class RowTaker {
  private readonly parts: tf.Tensor2D[] = [];
  private taken = 0;

  constructor(private readonly want: number) {}

  offer(h: tf.Tensor2D): void {
    const n = Math.min(this.want - this.taken, h.shape[0]);
    if (n <= 0) return;
    this.parts.push(tf.keep(n === h.shape[0] ? tf.clone(h) : tf.slice(h, [0, 0], [n, h.shape[1]])));
    this.taken += n;
  }

  /** The rows, kept; null when none were wanted. */
  result(): tf.Tensor2D | null {
    if (this.parts.length === 0) return null;
    if (this.parts.length === 1) return this.parts[0]!;
    const all = tf.keep(tf.concat(this.parts));
    tf.dispose(this.parts);
    return all;
  }
}

function countCorrect(z: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), labels), 'float32')));
}

/** a + b, disposing both: running sums over chunks, always in chunk order. */
function accumulate<T extends tf.Tensor>(a: T | null, b: T): T {
  if (a === null) return b;
  const sum = tf.add<T>(a, b);
  tf.dispose([a, b]);
  return sum;
}

/**
 * Gradients of the mean loss over `chunks` (denominator `denom` sequences), with
 * N(0, noise²) drawn from `noiseRng` added to the input embeddings of each chunk. The
 * forward's correct-count and, without noise, the pooled rows of the first `keepRows`
 * sequences come along: with full batch and no noise they are exactly the train accuracy
 * and the probe set's clean h(x) under the current weights, which `forwardStats` would
 * otherwise recompute.
 */
export function gradients(
  p: ParamSet,
  chunks: TokenBatch[],
  dims: ModelDims,
  denom: number,
  noise: number,
  noiseRng: Rng,
  keepRows = 0,
): Gradients {
  const map = paramMap(p);
  const rows = new RowTaker(noise > 0 ? 0 : keepRows);
  let lossSum: tf.Scalar | null = null;
  let correct: tf.Scalar | null = null;
  let acc: tf.Tensor[] | null = null;
  for (const chunk of chunks) {
    const eps =
      noise > 0
        ? tf.tensor2d(noiseRng.fillNormal(new Float32Array(chunk.size * dims.seqLen * dims.d), noise), [
            chunk.size * dims.seqLen,
            dims.d,
          ])
        : undefined;
    let chunkLoss: tf.Scalar | null = null;
    let z: tf.Tensor2D | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const h = pooled(map, chunk, dims, eps);
      rows.offer(h);
      z = tf.keep(logits(map, h));
      const l = crossEntropySum(z, chunk.onehot);
      chunkLoss = tf.keep(l);
      return tf.div<tf.Scalar>(l, denom);
    }, p.vars);
    tf.dispose([value, ...(eps ? [eps] : [])]);
    const zs = z as unknown as tf.Tensor2D;
    correct = accumulate(correct, countCorrect(zs, chunk.labels));
    zs.dispose();
    lossSum = accumulate(lossSum, chunkLoss as unknown as tf.Scalar);
    const ordered = p.vars.map((v) => grads[v.name]!);
    acc = acc === null ? ordered : acc.map((a, i) => accumulate(a, ordered[i]!));
  }
  if (acc === null || lossSum === null || correct === null) throw new RangeError('no data to train on');
  return { lossSum, correct, grads: acc, rows: rows.result() };
}

/**
 * Σ loss and # correct of a clean forward over `chunks`, read back, with the same ops and
 * summation order as `gradients`, so both give bit-identical values for the same weights, and
 * the pooled rows of the first `keepRows` sequences (kept; the caller disposes them).
 */
export function forwardStats(
  p: ParamSet,
  chunks: TokenBatch[],
  dims: ModelDims,
  keepRows = 0,
): { lossSum: number; correct: number; rows: tf.Tensor2D | null } {
  const rows = new RowTaker(keepRows);
  const stats = tf.tidy(() => {
    const map = paramMap(p);
    let lossSum: tf.Scalar | null = null;
    let correct: tf.Scalar | null = null;
    for (const c of chunks) {
      const h = pooled(map, c, dims);
      rows.offer(h);
      const z = logits(map, h);
      correct = accumulate(correct, countCorrect(z, c.labels));
      lossSum = accumulate(lossSum, crossEntropySum(z, c.onehot));
    }
    if (lossSum === null || correct === null) throw new RangeError('no data to evaluate');
    return tf.stack([lossSum, correct]);
  });
  const v = stats.dataSync();
  stats.dispose();
  return { lossSum: v[0]!, correct: v[1]!, rows: rows.result() };
}

/** The validation split and the noise-sensitivity probe set with its ε draws: fixed per trial. */
export interface HeldOutSet {
  val: TokenBatch[];
  nVal: number;
  /** The probe set (the head of the training split) and its fixed ε draws. */
  probe: TokenBatch;
  noise: tf.Tensor2D;
}

export function uploadHeldOut(
  val: { x: Int32Array; y: Int32Array },
  probe: { x: Int32Array; y: Int32Array; noise: Float32Array },
  dims: ModelDims,
): HeldOutSet {
  return {
    val: uploadChunks(val.x, val.y, dims),
    nVal: val.y.length,
    probe: uploadBatch(probe.x, probe.y, dims),
    noise: tf.tensor2d(probe.noise, [probe.x.length, dims.d]),
  };
}

export function disposeHeldOut(h: HeldOutSet): void {
  [...h.val, h.probe].forEach(disposeBatch);
  h.noise.dispose();
}

/** Held-out loss and accuracy of the current weights (after the step). */
export function validation(
  p: ParamSet,
  set: HeldOutSet,
  dims: ModelDims,
): { valLoss: number; valAcc: number } {
  const { lossSum, correct } = forwardStats(p, set.val, dims);
  return { valLoss: lossSum / set.nVal, valAcc: correct / set.nVal };
}

/** h(x + ε) over the probe set with its fixed ε (kept; see `noiseSensitivity`). */
export function noisyProbeRows(p: ParamSet, set: HeldOutSet, dims: ModelDims): tf.Tensor2D {
  return tf.tidy(() => pooled(paramMap(p), set.probe, dims, set.noise));
}

/**
 * Mean relative change of h(x) under the fixed input-embedding perturbation on the probe set,
 * ‖h(x+ε) − h(x)‖/‖h(x)‖, from both pooled representations under the same weights (the clean
 * one comes from the forward over the training split). Disposes both.
 */
export function noiseSensitivity(noisy: tf.Tensor2D, clean: tf.Tensor2D): number {
  const value = tf.tidy(() =>
    tf.mean(tf.div(tf.norm(tf.sub(noisy, clean), 'euclidean', 1), tf.norm(clean, 'euclidean', 1))),
  );
  tf.dispose([noisy, clean]);
  const v = value.dataSync()[0]!;
  value.dispose();
  return v;
}
