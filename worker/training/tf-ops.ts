// Ops with hand-written gradients that keep tfjs fast on CPU backends. Measured on wasm: the
// default gather gradient (UnsortedSegmentSum) is missing, gather itself is ~15× slower than a
// JS row copy, matMul with transposeA takes a naive path (~15× slower than an explicit
// transpose), and a column Sum for bias gradients costs 30× a ones·dy matMul.
import * as tf from '@tensorflow/tfjs';
import { batchedProduct } from './batched-products.js';
import { gatherRowsOnHost } from './host-kernels.js';

/** Backends whose tensors live in JS-reachable memory, where a JS row copy beats their gather. */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

function gatherRows(w: tf.Tensor2D, idx: tf.Tensor1D, tokens: Int32Array): tf.Tensor2D {
  return HOST_BACKENDS.has(tf.getBackend()) ? gatherRowsOnHost(w, tokens) : tf.gather(w, idx);
}

/** Rows of `w` picked by token ids; backward scatters dy into a zero table, summing duplicates. */
export function embedding(
  w: tf.Tensor2D,
  idx: tf.Tensor1D,
  idx2d: tf.Tensor2D,
  tokens: Int32Array,
): tf.Tensor2D {
  const shape = w.shape;
  const f = tf.customGrad((x) => ({
    value: gatherRows(x as tf.Tensor2D, idx, tokens),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(idx2d, dy, shape),
  }));
  return f(w) as tf.Tensor2D;
}

/**
 * ∂/∂W of x·W (xᵀ·dy) and, with `bias`, ∂/∂b (Σ rows of dy). The contraction runs over the n
 * rows, so one operand needs a Transpose and XNNPACK re-packs the other (the right-hand one)
 * on every call; packing costs ~1.3× a Transpose per element, so the wider of x and dy is the
 * one transposed (measured on wasm, 16384 rows: 57 ms against 77 for 256 and 64 columns).
 * The bias gradient reuses dyᵀ against a ones column instead of an axis-0 Sum (30× slower).
 */
/**
 * xᵀ for a 2-D tensor. On wasm the plain 2-D Transpose kernel runs ~3× slower than the same
 * permutation written as [n/B, B, m] → [m, n/B, B] (8.7 against 26 ms for 16384×256), which
 * walks memory in B-row runs; the result is bit-identical.
 */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [n, m] = x.shape;
  if (tf.getBackend() !== 'wasm' || n < 256) return tf.transpose(x);
  const block = [64, 32, 16, 8].find((b) => n % b === 0);
  if (!block) return tf.transpose(x);
  return tf.reshape(tf.transpose(tf.reshape(x, [n / block, block, m]), [2, 0, 1]), [m, n]);
}

function paramGrads(x: tf.Tensor2D, dy: tf.Tensor2D, bias: boolean): tf.Tensor[] {
  const n = dy.shape[0];
  const dyT = x.shape[1] <= dy.shape[1] || bias ? transpose2d(dy) : null;
  const dW = x.shape[1] <= dy.shape[1] ? transpose2d(tf.matMul(dyT!, x)) : tf.matMul(transpose2d(x), dy);
  if (!bias) return [dW];
  return [dW, tf.reshape(tf.matMul(dyT!, tf.ones([n, 1])), [dy.shape[1]])];
}

/** x [n, k] · w [k, m]. */
export const linear = tf.customGrad((x, w, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), ...paramGrads(xs, dy as tf.Tensor2D, false)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

/** x·w + b in one fused kernel. */
export const affine = tf.customGrad((x, w, b, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
  return {
    value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b as tf.Tensor }),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(ws)), ...paramGrads(xs, g, true)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * relu(x·w + b) in one fused kernel, for forward passes whose gradient is written by hand.
 * tf.fused.matMul unfuses the activation under a gradient tape (its own gradient needs the
 * pre-activation), which costs a pass over the output and makes the training forward differ
 * in the last bit from a clean one; running the kernel directly keeps both the same.
 */
function fusedAffineRelu(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  const [n, k] = x.shape;
  const m = w.shape[1];
  const out = tf
    .engine()
    .runKernel<tf.Tensor3D>(
      tf._FusedMatMul,
      { a: tf.reshape(x, [1, n, k]), b: tf.reshape(w, [1, k, m]), bias: b },
      { transposeA: false, transposeB: false, activation: 'relu', leakyreluAlpha: 0 },
    );
  return tf.reshape(out, [n, m]);
}

/** relu(x·w + b); the ReLU mask is read off the output. */
export const affineRelu = tf.customGrad((x, w, b, save) => {
  const y = fusedAffineRelu(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
  (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws, ys] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const g = tf.mul<tf.Tensor2D>(dy, tf.step(ys));
      return [tf.matMul(g, tf.transpose(ws)), ...paramGrads(xs, g, true)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * Σ_j a[n, i, j]·b[n, j, q] from aT = a laid out as [i, j, n], as a depthwise convolution:
 * channel n is sequence n, the kernel window runs over j and the channel multiplier over q.
 * The wasm fallback where the SIMD kernels do not apply (`batchedProduct`): XNNPACK runs
 * depthwise convolutions 2× faster than tfjs's scalar batched-matMul loop, relayouts included,
 * with the same summation order (bit-identical results).
 */
function depthwiseProduct(aT: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  const [p, k, n] = aT.shape;
  const m = b.shape[2];
  const filter = tf.reshape<tf.Rank.R4>(tf.transpose(b, [1, 0, 2]), [1, k, n, m]);
  const out = tf.depthwiseConv2d(tf.reshape<tf.Rank.R4>(aT, [1, p, k, n]), filter, 1, 'valid');
  return tf.transpose(tf.reshape<tf.Rank.R3>(out, [p, n, m]), [1, 0, 2]);
}

/** a [n, p, k] · b [n, k, m]. */
function productNN(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  return batchedProduct(a, b, 'nn') ?? depthwiseProduct(tf.transpose(a, [1, 2, 0]), b);
}

/** aᵀ·b per batch entry, for a [n, k, p] and b [n, k, m]. */
function productTN(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b, true, false);
  return batchedProduct(a, b, 'tn') ?? depthwiseProduct(tf.transpose(a, [2, 1, 0]), b);
}

/** a·bᵀ per batch entry (on wasm without the kernels, tfjs's loop, where the flag is free). */
function productNT(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return batchedProduct(a, b, 'nt') ?? tf.matMul(a, b, false, true);
}

/** Batched a [n, p, k] · b [n, k, m] (attention·values). */
export const bmm = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: productNN(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [productNT(dy as tf.Tensor3D, bs), productTN(as, dy as tf.Tensor3D)];
    },
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/** Batched a [n, p, k] · bᵀ for b [n, m, k] (attention scores q·kᵀ without a Transpose). */
export const bmmNT = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: productNT(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [productNN(dy as tf.Tensor3D, bs), productTN(dy as tf.Tensor3D, as)];
    },
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;

/**
 * Mean over each run of `seqLen` rows of x [b·L, m] → [b, m], as an average pool with the
 * features as channels: XNNPACK's pooling, 1.5–2× faster on wasm than Mean over a middle axis
 * (which transposes first).
 */
function sequenceMean(x: tf.Tensor2D, seqLen: number): tf.Tensor2D {
  const [n, m] = x.shape;
  const pooledRows = tf.avgPool(
    tf.reshape<tf.Rank.R4>(x, [n / seqLen, seqLen, 1, m]),
    [seqLen, 1],
    [seqLen, 1],
    'valid',
  );
  return tf.reshape(pooledRows, [n / seqLen, m]);
}

/**
 * The last block's FFN fused with mean-pooling: mean over each run of `seqLen` rows of
 * h + relu(h·w1 + b1)·w2 + b2, for h [b·L, d], giving [b, d]. The mean commutes with the
 * affine map w2, so w2 is applied to b pooled rows instead of b·L tokens: one of the two big
 * FFN matmuls and both of its gradients shrink L-fold. Backward: g = relu′ ⊙ (dy·w2ᵀ/L)
 * broadcast over each sequence.
 */
export function pooledFfn(
  h: tf.Tensor2D,
  w1: tf.Tensor2D,
  b1: tf.Tensor1D,
  w2: tf.Tensor2D,
  b2: tf.Tensor1D,
  seqLen: number,
): tf.Tensor2D {
  const [n, d] = h.shape;
  const F = w1.shape[1];
  const b = n / seqLen;
  const f = tf.customGrad((hx, w1x, b1x, w2x, b2x, save) => {
    const z = fusedAffineRelu(hx as tf.Tensor2D, w1x as tf.Tensor2D, b1x as tf.Tensor1D);
    const fm = sequenceMean(z, seqLen);
    const hm = sequenceMean(hx as tf.Tensor2D, seqLen);
    (save as tf.GradSaveFunc)([hx as tf.Tensor, w1x as tf.Tensor, w2x as tf.Tensor, z, fm]);
    return {
      value: tf.add(hm, tf.fused.matMul({ a: fm, b: w2x as tf.Tensor2D, bias: b2x as tf.Tensor })),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, w1s, w2s, zs, fms] = saved as [
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor2D,
        ];
        const dyMean = tf.mul<tf.Tensor2D>(dy, 1 / seqLen);
        const u = tf.matMul(dyMean, tf.transpose(w2s));
        const g = tf.reshape<tf.Rank.R2>(
          tf.mul(tf.reshape(tf.step(zs), [b, seqLen, F]), tf.reshape(u, [b, 1, F])),
          [n, F],
        );
        const dh = tf.add(
          tf.reshape(tf.matMul(g, tf.transpose(w1s)), [b, seqLen, d]),
          tf.reshape(dyMean, [b, 1, d]),
        );
        return [
          tf.reshape(dh, [n, d]),
          ...paramGrads(hs, g, true),
          tf.matMul(transpose2d(fms), dy),
          tf.reshape(tf.matMul(tf.ones([1, b]), dy as tf.Tensor2D), [d]),
        ];
      },
    };
  });
  return f(h, w1, b1, w2, b2) as tf.Tensor2D;
}
