// Single-block attention in two forms: per token (any input), and from V×V score tables when the
// block's input is exactly the token embeddings (first block, no input noise).
import * as tf from '@tensorflow/tfjs';
import type { ModelDims, ParamMap, TokenBatch } from './model.js';
import { bmm, bmmNT, embedding, linear } from './tf-ops.js';

/**
 * Whether the score-table form is worth it for a batch of `size` sequences. It costs V²·d
 * FLOPs in dense matMuls against size·L²·d in batched ones, and batched products run several
 * times slower than dense ones on the CPU backends (tfjs's scalar loop; on wasm the SIMD
 * kernels of batched-products.ts, still ~8% slower an epoch for the small model without the
 * tables), so up to 4× the FLOPs still wins.
 */
export function scoreTableFits(dims: ModelDims, size: number): boolean {
  return dims.vocab * dims.vocab <= 4 * size * dims.seqLen * dims.seqLen;
}

/**
 * Flat indices of each score (sequence n, head h, query i, key j) in the stacked tables
 * [H, V, V]: h·V² + tok(n, i)·V + tok(n, j), in the [n·H, L, L] order of the split heads.
 */
export function scoreIndices(tokens: Int32Array, size: number, dims: ModelDims): Int32Array {
  const { seqLen: L, heads: H, vocab: V } = dims;
  const out = new Int32Array(size * H * L * L);
  let o = 0;
  for (let n = 0; n < size; n++) {
    const seq = n * L;
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const row = h * V * V + tokens[seq + i]! * V;
        for (let j = 0; j < L; j++) out[o++] = row + tokens[seq + j]!;
      }
    }
  }
  return out;
}

export function splitHeads(t: tf.Tensor2D, b: number, dims: ModelDims): tf.Tensor3D {
  const { seqLen: L, d, heads: H } = dims;
  if (H === 1) return tf.reshape(t, [b, L, d]);
  const t4 = tf.reshape(t, [b, L, H, d / H]);
  return tf.reshape(tf.transpose(t4, [0, 2, 1, 3]), [b * H, L, d / H]);
}

export function mergeHeads(t: tf.Tensor3D, b: number, dims: ModelDims): tf.Tensor2D {
  const { seqLen: L, d, heads: H } = dims;
  if (H === 1) return tf.reshape(t, [b * L, d]);
  const t4 = tf.reshape(t, [b, H, L, d / H]);
  return tf.reshape(tf.transpose(t4, [0, 2, 1, 3]), [b * L, d]);
}

const weight = (p: ParamMap, l: number, name: string) => p[`l${l}.${name}`] as tf.Tensor2D;

/**
 * softmax(q·kᵀ/√dh)·v·Wo for block `l`, [b·L, d]. The scale is folded into Wq (d×d) rather than
 * applied to every score. With `tokens` (the input is exactly the embeddings), x·W = (E·W)[ids]:
 * projecting the V-row table instead of all b·L token rows. With one head the d×d products fold
 * first (`foldedWeights`), so the tokens go through two projections instead of four.
 */
export function attention(
  p: ParamMap,
  l: number,
  h: tf.Tensor2D,
  batch: TokenBatch,
  dims: ModelDims,
  tokens: boolean,
): tf.Tensor2D {
  if (tokens && batch.scores) return tableAttention(p, l, batch, dims);
  const table = p['encoder'] as tf.Tensor2D;
  const project = (w: tf.Tensor2D) =>
    tokens ? embedding(linear(table, w), batch.idx, batch.idx2d, batch.tokens) : linear(h, w);
  const b = batch.size;
  if (dims.heads === 1) {
    const { qk, vo } = foldedWeights(p, l, dims);
    const x = tokens ? embedding(table, batch.idx, batch.idx2d, batch.tokens) : h;
    const att = tf.softmax(bmmNT(splitHeads(project(qk), b, dims), splitHeads(x, b, dims)));
    return mergeHeads(bmm(att, splitHeads(project(vo), b, dims)), b, dims);
  }
  const scale = 1 / Math.sqrt(dims.d / dims.heads);
  const q = splitHeads(project(tf.mul(weight(p, l, 'wq'), scale)), b, dims);
  const att = tf.softmax(bmmNT(q, splitHeads(project(weight(p, l, 'wk')), b, dims)));
  const o = bmm(att, splitHeads(project(weight(p, l, 'wv')), b, dims));
  return linear(mergeHeads(o, b, dims), weight(p, l, 'wo'));
}

/**
 * One head's d×d products: scores x·Wq·Wkᵀ·xᵀ/√d = (x·QK)·xᵀ and outputs A·x·Wv·Wo = A·(x·VO).
 */
function foldedWeights(p: ParamMap, l: number, dims: ModelDims): { qk: tf.Tensor2D; vo: tf.Tensor2D } {
  const qk = linear(tf.mul(weight(p, l, 'wq'), 1 / Math.sqrt(dims.d)), tf.transpose(weight(p, l, 'wk')));
  return { qk, vo: linear(weight(p, l, 'wv'), weight(p, l, 'wo')) };
}

/**
 * Attention whose scores come from per-head V×V tables T_h = (E·Wq_h)(E·Wk_h)ᵀ/√dh, gathered
 * per (query, key) token pair: dense matMuls instead of batched per-sequence products. With
 * one head the weights fold (`foldedWeights`): T = (E·QK)·Eᵀ and o·Wo = A·(E·VO)[ids].
 */
function tableAttention(p: ParamMap, l: number, batch: TokenBatch, dims: ModelDims): tf.Tensor2D {
  const { vocab: V, d, heads: H, seqLen: L } = dims;
  const dh = d / H;
  const b = batch.size;
  const e = p['encoder'] as tf.Tensor2D;
  const s = batch.scores!;
  const scores = (flat: tf.Tensor2D) =>
    tf.softmax(tf.reshape<tf.Rank.R3>(embedding(flat, s.idx, s.idx2d, s.ids), [b * H, L, L]));
  if (H === 1) {
    const { qk, vo } = foldedWeights(p, l, dims);
    const att = scores(tf.reshape(linear(linear(e, qk), tf.transpose(e)), [V * V, 1]));
    const values = embedding(linear(e, vo), batch.idx, batch.idx2d, batch.tokens);
    return tf.reshape(bmm(att, tf.reshape(values, [b, L, d])), [b * L, d]);
  }
  const q = linear(e, tf.mul(weight(p, l, 'wq'), 1 / Math.sqrt(dh)));
  const k = linear(e, weight(p, l, 'wk'));
  const tables: tf.Tensor2D[] = [];
  for (let i = 0; i < H; i++)
    tables.push(linear(tf.slice(q, [0, i * dh], [V, dh]), tf.transpose(tf.slice(k, [0, i * dh], [V, dh]))));
  const att = scores(tf.reshape<tf.Rank.R2>(tf.concat(tables, 0), [H * V * V, 1]));
  const v = embedding(linear(e, weight(p, l, 'wv')), batch.idx, batch.idx2d, batch.tokens);
  return linear(mergeHeads(bmm(att, splitHeads(v, b, dims)), b, dims), weight(p, l, 'wo'));
}
