// The model under study: token embedding `encoder` (V×d), attention blocks with a ReLU FFN,
// mean-pool and a linear classifier. Initial weights come from the trial's PRNG, not tfjs.
import * as tf from '@tensorflow/tfjs';
import type { TrialConfig } from '../../spec/index.js';
import type { Rng } from './rng.js';
import { attention, scoreIndices, scoreTableFits } from './attention.js';
import { affine, affineRelu, embedding, pooledFfn } from './tf-ops.js';

export interface ModelDims {
  vocab: number;
  seqLen: number;
  classes: number;
  d: number;
  heads: number;
  layers: number;
  ffn: number;
}

export function modelDims(
  config: TrialConfig,
  data: { vocab: number; seqLen: number; classes: number },
): ModelDims {
  const m = config.model;
  return { ...data, d: m.d_model, heads: m.heads, layers: m.layers, ffn: m.ffn };
}

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Std of the Gaussian init; 0 means zeros. */
  std: number;
}

/** Parameters in a fixed order: initialisation, checkpoints and optimiser state follow it. */
export function paramSpecs(dims: ModelDims): ParamSpec[] {
  const { vocab, d, ffn, classes } = dims;
  // N(0, 1) embeddings as torch.nn.Embedding; fan-in scaling elsewhere keeps activations O(1).
  const specs: ParamSpec[] = [{ name: 'encoder', shape: [vocab, d], std: 1 }];
  for (let l = 0; l < dims.layers; l++) {
    for (const w of ['wq', 'wk', 'wv', 'wo'])
      specs.push({ name: `l${l}.${w}`, shape: [d, d], std: 1 / Math.sqrt(d) });
    specs.push({ name: `l${l}.w1`, shape: [d, ffn], std: 1 / Math.sqrt(d) });
    specs.push({ name: `l${l}.b1`, shape: [ffn], std: 0 });
    specs.push({ name: `l${l}.w2`, shape: [ffn, d], std: 1 / Math.sqrt(ffn) });
    specs.push({ name: `l${l}.b2`, shape: [d], std: 0 });
  }
  specs.push({ name: 'head.w', shape: [d, classes], std: 1 / Math.sqrt(d) });
  specs.push({ name: 'head.b', shape: [classes], std: 0 });
  return specs;
}

export function initialValues(specs: ParamSpec[], rng: Rng): Float32Array[] {
  return specs.map((s) => {
    const out = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    return s.std > 0 ? rng.fillNormal(out, s.std) : out;
  });
}

export type ParamMap = Record<string, tf.Tensor>;

/** Flat ids with their tensors: what `embedding` gathers by. */
export interface GatherIds {
  ids: Int32Array;
  idx: tf.Tensor1D;
  /** The same as [n, 1], for scatterND. */
  idx2d: tf.Tensor2D;
}

/** One batch of sequences, uploaded once and reused every epoch. */
export interface TokenBatch {
  size: number;
  tokens: Int32Array;
  /** [size·L] token ids, and the same as [size·L, 1] for scatterND. */
  idx: tf.Tensor1D;
  idx2d: tf.Tensor2D;
  /** One-hot labels [size, classes]. */
  onehot: tf.Tensor2D;
  labels: tf.Tensor1D;
  /** Indices into the first block's score tables, when that form pays (`scoreTableFits`). */
  scores: GatherIds | null;
}

function gatherIds(ids: Int32Array): GatherIds {
  const idx = tf.tensor1d(ids, 'int32');
  return { ids, idx, idx2d: tf.reshape(idx, [ids.length, 1]) };
}

export function uploadBatch(x: Int32Array, y: Int32Array, dims: ModelDims): TokenBatch {
  const size = y.length;
  const { idx, idx2d } = gatherIds(x);
  const labels = tf.tensor1d(y, 'int32');
  return {
    size,
    tokens: x,
    idx,
    idx2d,
    labels,
    onehot: tf.tidy(() => tf.oneHot(labels, dims.classes).toFloat() as tf.Tensor2D),
    scores: scoreTableFits(dims, size) ? gatherIds(scoreIndices(x, size, dims)) : null,
  };
}

export function disposeBatch(b: TokenBatch): void {
  tf.dispose([b.idx, b.idx2d, b.onehot, b.labels]);
  if (b.scores) tf.dispose([b.scores.idx, b.scores.idx2d]);
}

/**
 * The pooled representation h(x) [size, d] that feeds the classifier. The first block reads
 * the embedding table directly when its input is exactly the embeddings (no noise); the last
 * block's FFN is fused with the mean-pool.
 */
export function pooled(p: ParamMap, batch: TokenBatch, dims: ModelDims, noise?: tf.Tensor2D): tf.Tensor2D {
  let h = embedding(p['encoder'] as tf.Tensor2D, batch.idx, batch.idx2d, batch.tokens);
  if (noise) h = tf.add<tf.Tensor2D>(h, noise);
  for (let l = 0; ; l++) {
    const h1 = tf.add<tf.Tensor2D>(h, attention(p, l, h, batch, dims, l === 0 && !noise));
    const w = (name: string) => p[`l${l}.${name}`] as tf.Tensor2D;
    const bias = (name: string) => p[`l${l}.${name}`] as tf.Tensor1D;
    if (l === dims.layers - 1) return pooledFfn(h1, w('w1'), bias('b1'), w('w2'), bias('b2'), dims.seqLen);
    h = tf.add(h1, affine(affineRelu(h1, w('w1'), bias('b1')), w('w2'), bias('b2')));
  }
}

export function logits(p: ParamMap, hPooled: tf.Tensor2D): tf.Tensor2D {
  return affine(hPooled, p['head.w'] as tf.Tensor2D, p['head.b'] as tf.Tensor1D);
}

/** Summed (not mean) cross-entropy: chunks add up to the batch total exactly once. */
export function crossEntropySum(z: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z)))) as tf.Scalar;
}
