// The tensor work of an epoch: summed gradients over memory-bounded chunks, and the
// evaluation passes behind train/val accuracy and noise sensitivity. One readback each.
import * as tf from '@tensorflow/tfjs';
import {
  crossEntropySum,
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
 * 4 GiB, never shrinks); 16k tokens (1024 sequences of 16) keep it well under 1 GiB at d = 256
 * and are as fast as one pass, while fewer, larger chunks amortise the per-chunk score tables.
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
    const { grads } = tf.variableGrads(() => {
      z = tf.keep(logits(map, pooled(map, chunk, dims, eps)));
      const l = crossEntropySum(z, chunk.onehot);
      chunkLoss = tf.keep(l);
      return tf.div<tf.Scalar>(l, denom);
    }, p.vars);
    eps?.dispose();
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

/** Held-out [loss, accuracy] of the current weights (after the step). */
export function valStats(p: ParamSet, chunks: TokenBatch[], n: number, dims: ModelDims): [number, number] {
  const s = forwardStats(p, chunks, dims);
  const v = s.dataSync();
  s.dispose();
  return [v[0]! / n, v[1]! / n];
}

/**
 * Mean relative change of h(x) under the fixed input-embedding perturbation `noise` on the
 * probe set: two forward passes over that small subset only.
 */
export function noiseSensitivity(
  p: ParamSet,
  probe: { batch: TokenBatch; noise: tf.Tensor2D },
  dims: ModelDims,
): number {
  const value = tf.tidy(() => {
    const map = paramMap(p);
    const h0 = pooled(map, probe.batch, dims);
    const h1 = pooled(map, probe.batch, dims, probe.noise);
    return tf.mean(tf.div(tf.norm(tf.sub(h1, h0), 'euclidean', 1), tf.norm(h0, 'euclidean', 1)));
  });
  const v = value.dataSync()[0]!;
  value.dispose();
  return v;
}
