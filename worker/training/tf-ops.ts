// Ops with hand-written gradients that keep tfjs fast on CPU backends: the default gradient
// of gather (UnsortedSegmentSum) is very slow on cpu and missing on wasm, and matMul
// gradients through transpose flags are ~10× slower on wasm than an explicit transpose.
import * as tf from '@tensorflow/tfjs';

/** Rows of `w` picked by `idx`; backward scatters dy into a zero table, summing duplicates. */
export function embedding(w: tf.Tensor2D, idx: tf.Tensor1D, idx2d: tf.Tensor2D): tf.Tensor2D {
  const shape = w.shape;
  const f = tf.customGrad((x) => ({
    value: tf.gather(x as tf.Tensor2D, idx),
    gradFunc: (dy: tf.Tensor) => tf.scatterND(idx2d, dy, shape),
  }));
  return f(w) as tf.Tensor2D;
}

/** x [n, k] · w [k, m]. */
export const linear = tf.customGrad((x, w, save) => {
  (save as tf.GradSaveFunc)([x as tf.Tensor, w as tf.Tensor]);
  return {
    value: tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
    },
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

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
