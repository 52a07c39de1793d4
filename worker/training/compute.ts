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
 * forward's correct-count comes along: with full batch and no noise it is exactly the
 * train accuracy of the current weights, which `forwardStats` would otherwise recompute.
 */
export function gradients(
  p: ParamSet,
  chunks: TokenBatch[],
  dims: ModelDims,
  denom: number,
  noise: number,
  noiseRng: Rng,
): Gradients {
  const map = paramMap(p);
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
      z = tf.keep(logits(map, pooled(map, chunk, dims, eps)));
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
  return { lossSum, correct, grads: acc };
}

/**
 * [Σ loss, # correct] of a clean forward over `chunks`, with the same ops and summation order
 * as `gradients`, so both give bit-identical values for the same weights.
 */
export function forwardStats(p: ParamSet, chunks: TokenBatch[], dims: ModelDims): tf.Tensor1D {
  return tf.tidy(() => {
    const map = paramMap(p);
    let lossSum: tf.Scalar | null = null;
    let correct: tf.Scalar | null = null;
    for (const c of chunks) {
      const z = logits(map, pooled(map, c, dims));
      correct = accumulate(correct, countCorrect(z, c.labels));
      lossSum = accumulate(lossSum, crossEntropySum(z, c.onehot));
    }
    if (lossSum === null || correct === null) throw new RangeError('no data to evaluate');
    return tf.stack([lossSum, correct]) as tf.Tensor1D;
  });
}

/** The validation split with the noise-sensitivity probe set: fixed for the whole trial. */
export interface HeldOutSet {
  /** Validation sequences followed by the probe set's, so one clean pass serves both. */
  chunks: TokenBatch[];
  nVal: number;
  /** The probe set alone, for its perturbed pass, and its fixed ε draws. */
  probe: TokenBatch;
  noise: tf.Tensor2D;
}

export function uploadHeldOut(
  val: { x: Int32Array; y: Int32Array },
  probe: { x: Int32Array; y: Int32Array; noise: Float32Array },
  dims: ModelDims,
): HeldOutSet {
  const x = new Int32Array(val.x.length + probe.x.length);
  x.set(val.x);
  x.set(probe.x, val.x.length);
  const y = new Int32Array(val.y.length + probe.y.length);
  y.set(val.y);
  y.set(probe.y, val.y.length);
  return {
    chunks: uploadChunks(x, y, dims),
    nVal: val.y.length,
    probe: uploadBatch(probe.x, probe.y, dims),
    noise: tf.tensor2d(probe.noise, [probe.x.length, dims.d]),
  };
}

export function disposeHeldOut(h: HeldOutSet): void {
  [...h.chunks, h.probe].forEach(disposeBatch);
  h.noise.dispose();
}

/**
 * Held-out loss and accuracy of the current weights (after the step), and the clean pooled
 * representation h(x) of the probe set from the same forward pass (the caller disposes it).
 */
export function validation(
  p: ParamSet,
  set: HeldOutSet,
  dims: ModelDims,
): { valLoss: number; valAcc: number; clean: tf.Tensor2D } {
  let clean: tf.Tensor2D | null = null;
  const stats = tf.tidy(() => {
    const map = paramMap(p);
    let lossSum: tf.Scalar | null = null;
    let correct: tf.Scalar | null = null;
    const probeRows: tf.Tensor2D[] = [];
    let row = 0;
    for (const c of set.chunks) {
      const h = pooled(map, c, dims);
      const nv = Math.max(0, Math.min(c.size, set.nVal - row));
      row += c.size;
      if (nv < c.size) probeRows.push(tf.slice(h, [nv, 0], [c.size - nv, dims.d]));
      if (nv === 0) continue;
      const z = logits(map, nv === c.size ? h : tf.slice(h, [0, 0], [nv, dims.d]));
      const onehot = nv === c.size ? c.onehot : tf.slice(c.onehot, [0, 0], [nv, dims.classes]);
      const labels = nv === c.size ? c.labels : tf.slice(c.labels, [0], [nv]);
      correct = accumulate(correct, countCorrect(z, labels));
      lossSum = accumulate(lossSum, crossEntropySum(z, onehot));
    }
    if (lossSum === null || correct === null) throw new RangeError('no data to evaluate');
    clean = tf.keep(probeRows.length === 1 ? probeRows[0]! : tf.concat(probeRows));
    return tf.stack([lossSum, correct]);
  });
  const v = stats.dataSync();
  stats.dispose();
  return { valLoss: v[0]! / set.nVal, valAcc: v[1]! / set.nVal, clean: clean! };
}

/**
 * Mean relative change of h(x) under the fixed input-embedding perturbation on the probe set,
 * ‖h(x+ε) − h(x)‖/‖h(x)‖, given the clean h(x) from `validation` (disposed here): one extra
 * forward pass, over the small probe set only.
 */
export function noiseSensitivity(p: ParamSet, set: HeldOutSet, clean: tf.Tensor2D, dims: ModelDims): number {
  const value = tf.tidy(() => {
    const noisy = pooled(paramMap(p), set.probe, dims, set.noise);
    return tf.mean(tf.div(tf.norm(tf.sub(noisy, clean), 'euclidean', 1), tf.norm(clean, 'euclidean', 1)));
  });
  clean.dispose();
  const v = value.dataSync()[0]!;
  value.dispose();
  return v;
}
