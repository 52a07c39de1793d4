// The model under study: token embedding `encoder` (V×d), attention blocks with a ReLU FFN,
// mean-pool and a linear classifier. Initial weights come from the trial's PRNG, not tfjs.
import * as tf from '@tensorflow/tfjs';
import type { TrialConfig } from '../../spec/index.js';
import type { Rng } from './rng.js';
import { affine, affineRelu, bmm, embedding, linear } from './tf-ops.js';

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
}

export function uploadBatch(x: Int32Array, y: Int32Array, dims: ModelDims): TokenBatch {
  const size = y.length;
  const idx = tf.tensor1d(x, 'int32');
  const labels = tf.tensor1d(y, 'int32');
  return {
    size,
    tokens: x,
    idx,
    idx2d: tf.reshape(idx, [x.length, 1]),
    labels,
    onehot: tf.oneHot(labels, dims.classes).toFloat() as tf.Tensor2D,
  };
}

export function disposeBatch(b: TokenBatch): void {
  tf.dispose([b.idx, b.idx2d, b.onehot, b.labels]);
}

function splitHeads(t: tf.Tensor2D, b: number, dims: ModelDims): tf.Tensor3D {
  const { seqLen: L, d, heads: H } = dims;
  if (H === 1) return tf.reshape(t, [b, L, d]);
  const t4 = tf.reshape(t, [b, L, H, d / H]);
  return tf.reshape(tf.transpose(t4, [0, 2, 1, 3]), [b * H, L, d / H]);
}

function mergeHeads(t: tf.Tensor3D, b: number, dims: ModelDims): tf.Tensor2D {
  const { seqLen: L, d, heads: H } = dims;
  if (H === 1) return tf.reshape(t, [b * L, d]);
  const t4 = tf.reshape(t, [b, H, L, d / H]);
  return tf.reshape(tf.transpose(t4, [0, 2, 1, 3]), [b * L, d]);
}

/** softmax(q·kᵀ·scale)·v within each sequence and head; q, k, v and the result are [b·L, d]. */
function attention(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  v: tf.Tensor2D,
  b: number,
  dims: ModelDims,
  scale: number,
): tf.Tensor2D {
  const att = tf.softmax(
    bmm(splitHeads(tf.mul(q, scale), b, dims), tf.transpose(splitHeads(k, b, dims), [0, 2, 1])),
  );
  return mergeHeads(bmm(att, splitHeads(v, b, dims)), b, dims);
}

/**
 * One block. When its input is exactly the token embeddings (`tokens` given: first block, no
 * input noise), x·W = (E·W)[tokens]: projecting the V-row table instead of all N·L token rows
 * cuts the q/k/v projections and their gradients by N·L/V (64× on the small benchmark).
 */
function block(
  p: ParamMap,
  l: number,
  h: tf.Tensor2D,
  batch: TokenBatch,
  dims: ModelDims,
  tokens: boolean,
): tf.Tensor2D {
  const scale = 1 / Math.sqrt(dims.d / dims.heads);
  const w = (name: string) => p[`l${l}.${name}`] as tf.Tensor2D;
  const table = p['encoder'] as tf.Tensor2D;
  const project = (name: string) =>
    tokens ? embedding(linear(table, w(name)), batch.idx, batch.idx2d, batch.tokens) : linear(h, w(name));
  const b = batch.size;
  const o = attention(project('wq'), project('wk'), project('wv'), b, dims, scale);
  const h1: tf.Tensor2D = tf.add(h, linear(o, w('wo')));
  const bias = (name: string) => p[`l${l}.${name}`] as tf.Tensor1D;
  const f = affineRelu(h1, w('w1'), bias('b1'));
  return tf.add(h1, affine(f, w('w2'), bias('b2')));
}

/** The pooled representation h(x) [size, d] that feeds the classifier. */
export function pooled(p: ParamMap, batch: TokenBatch, dims: ModelDims, noise?: tf.Tensor2D): tf.Tensor2D {
  let h = embedding(p['encoder'] as tf.Tensor2D, batch.idx, batch.idx2d, batch.tokens);
  if (noise) h = tf.add<tf.Tensor2D>(h, noise);
  for (let l = 0; l < dims.layers; l++) h = block(p, l, h, batch, dims, l === 0 && !noise);
  return tf.mean<tf.Tensor2D>(tf.reshape(h, [batch.size, dims.seqLen, dims.d]), 1);
}

export function logits(p: ParamMap, hPooled: tf.Tensor2D): tf.Tensor2D {
  return affine(hPooled, p['head.w'] as tf.Tensor2D, p['head.b'] as tf.Tensor1D);
}

/** Summed (not mean) cross-entropy: chunks add up to the batch total exactly once. */
export function crossEntropySum(z: tf.Tensor2D, onehot: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z)))) as tf.Scalar;
}
