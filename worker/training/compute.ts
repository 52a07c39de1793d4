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
 * Sequences per forward/backward pass. Accumulating over chunks bounds the wasm heap
 * (capped at 4 GiB, never shrinks) at no cost in speed.
 */
export const CHUNK_SEQUENCES = 512;

export function uploadChunks(
  x: Int32Array,
  y: Int32Array,
  dims: ModelDims,
  chunk = CHUNK_SEQUENCES,
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
  /** ∂(lossSum / denom)/∂θ in parameter order. */
  grads: tf.Tensor[];
}

/**
 * Gradients of the mean loss over `chunks` (denominator `denom` sequences), with
 * N(0, noise²) drawn from `noiseRng` added to the input embeddings of each chunk.
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
    const { grads } = tf.variableGrads(() => {
      const l = crossEntropySum(logits(map, pooled(map, chunk, dims, eps)), chunk.onehot);
      chunkLoss = tf.keep(l);
      return tf.div<tf.Scalar>(l, denom);
    }, p.vars);
    eps?.dispose();
    const ordered = p.vars.map((v) => grads[v.name]!);
    const l = chunkLoss as unknown as tf.Scalar;
    if (acc === null || lossSum === null) {
      acc = ordered;
      lossSum = l;
    } else {
      const prev: tf.Tensor[] = acc;
      const prevLoss: tf.Scalar = lossSum;
      acc = prev.map((a, i) => tf.add(a, ordered[i]!));
      lossSum = tf.add<tf.Scalar>(prevLoss, l);
      tf.dispose([...prev, ...ordered, prevLoss, l]);
    }
  }
  if (acc === null || lossSum === null) throw new RangeError('no data to train on');
  return { lossSum, grads: acc };
}

export interface Evaluation {
  trainLoss: number;
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  noiseSensitivity: number | null;
}

function lossAndCorrect(map: ParamMap, chunks: TokenBatch[], dims: ModelDims): tf.Tensor1D {
  const parts = chunks.map((c) => {
    const z = logits(map, pooled(map, c, dims));
    const correct = tf.sum(tf.cast(tf.equal(tf.argMax(z, 1), c.labels), 'float32'));
    return tf.stack([crossEntropySum(z, c.onehot), correct]);
  });
  return tf.addN(parts) as tf.Tensor1D;
}

/**
 * Losses and accuracies after the step, and the mean relative change of h(x) under the
 * fixed input-embedding perturbation `probeNoise` on the probe set.
 */
export function evaluate(
  p: ParamSet,
  sets: { train: TokenBatch[]; val: TokenBatch[]; nTrain: number; nVal: number },
  probe: { batch: TokenBatch; noise: tf.Tensor2D } | null,
  dims: ModelDims,
): Evaluation {
  const values = tf.tidy(() => {
    const map = paramMap(p);
    const parts: tf.Tensor1D[] = [lossAndCorrect(map, sets.train, dims), lossAndCorrect(map, sets.val, dims)];
    if (probe) {
      const h0 = pooled(map, probe.batch, dims);
      const h1 = pooled(map, probe.batch, dims, probe.noise);
      const ratio = tf.div(tf.norm(tf.sub(h1, h0), 'euclidean', 1), tf.norm(h0, 'euclidean', 1));
      parts.push(tf.reshape(tf.mean(ratio), [1]));
    }
    return tf.concat(parts);
  });
  const v = values.dataSync();
  values.dispose();
  return {
    trainLoss: v[0]! / sets.nTrain,
    trainAcc: v[1]! / sets.nTrain,
    valLoss: v[2]! / sets.nVal,
    valAcc: v[3]! / sets.nVal,
    noiseSensitivity: probe ? v[4]! : null,
  };
}
