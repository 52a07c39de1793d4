// Ops with hand-written gradients that keep tfjs fast on CPU backends. Measured on wasm: the
// default gather gradient (UnsortedSegmentSum) is missing, gather itself is ~15× slower than a
// JS row copy, matMul with transposeA takes a naive path (~15× slower than an explicit
// transpose), and a column Sum for bias gradients costs 30× a ones·dy matMul.
import * as tf from '@tensorflow/tfjs';

/** Backends whose tensors live in JS-reachable memory, where a JS row copy beats their gather. */
const HOST_BACKENDS = new Set(['wasm', 'cpu']);

function gatherRows(w: tf.Tensor2D, idx: tf.Tensor1D, tokens: Int32Array): tf.Tensor2D {
  if (!HOST_BACKENDS.has(tf.getBackend())) return tf.gather(w, idx);
  const [, d] = w.shape;
  const table = w.dataSync() as Float32Array;
  const out = new Float32Array(tokens.length * d);
  for (let i = 0; i < tokens.length; i++)
    out.set(table.subarray(tokens[i]! * d, (tokens[i]! + 1) * d), i * d);
  return tf.tensor2d(out, [tokens.length, d]);
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
 * ∂/∂W of x·W (xᵀ·dy) and, with `bias`, ∂/∂b (Σ rows of dy). XNNPACK re-packs the right-hand
 * operand of every matMul, so the narrower of x and dy goes on the right: [64,n]·[n,256] costs
 * ~2.5× [256,n]·[n,64] on wasm, more than transposing the wider operand. The bias gradient
 * reuses dyᵀ against a ones column instead of an axis-0 Sum (30× slower).
 */
function paramGrads(x: tf.Tensor2D, dy: tf.Tensor2D, bias: boolean): tf.Tensor[] {
  const n = dy.shape[0];
  const dyT = x.shape[1] <= dy.shape[1] || bias ? tf.transpose(dy) : null;
  const dW = x.shape[1] <= dy.shape[1] ? tf.transpose(tf.matMul(dyT!, x)) : tf.matMul(tf.transpose(x), dy);
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

/** relu(x·w + b) in one fused kernel; the ReLU mask is read off the output. */
export const affineRelu = tf.customGrad((x, w, b, save) => {
  const y = tf.fused.matMul({
    a: x as tf.Tensor2D,
    b: w as tf.Tensor2D,
    bias: b as tf.Tensor,
    activation: 'relu',
  });
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

const SWAP_LAST = [0, 2, 1];

/** Batched a [n, p, k] · b [n, k, m]. */
export const bmm = tf.customGrad((a, b, save) => {
  (save as tf.GradSaveFunc)([a as tf.Tensor, b as tf.Tensor]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as [tf.Tensor3D, tf.Tensor3D];
      return [tf.matMul(dy, tf.transpose(bs, SWAP_LAST)), tf.matMul(tf.transpose(as, SWAP_LAST), dy)];
    },
  };
}) as (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D;
