// The SIMD batched products on wasm against tfjs's own matMul: a·b and aᵀ·b sum in the same
// order (bit-identical), a·bᵀ sums in four interleaved runs (float rounding apart).
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { batchedProduct } from '../../worker/training/batched-products.js';
import { createEngine, Rng } from '../../worker/training/index.js';

function random(shape: [number, number, number], seed: number): tf.Tensor3D {
  const n = shape[0] * shape[1] * shape[2];
  return tf.tensor3d(Rng.stream(seed, 'products').fillNormal(new Float32Array(n), 1), shape);
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let diff = 0;
  let scale = 0;
  y.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(x[i]! - v));
    scale = Math.max(scale, Math.abs(v));
  });
  return diff / scale;
}

describe('batched products on wasm', () => {
  const shapes: Array<[number, number, number, number]> = [
    [1024, 16, 16, 64],
    [3, 5, 7, 32],
    [1, 1, 1, 16],
    [7, 13, 3, 48],
  ];

  it.each(shapes)('a·b and aᵀ·b equal tf.matMul exactly (n %i, p %i, k %i, m %i)', async (n, p, k, m) => {
    await createEngine('wasm');
    const b = random([n, k, m], 2);
    const nn = random([n, p, k], 1);
    expect(Array.from(batchedProduct(nn, b, 'nn')!.dataSync())).toEqual(
      Array.from(tf.matMul(nn, b).dataSync()),
    );
    const tn = random([n, k, p], 3);
    expect(Array.from(batchedProduct(tn, b, 'tn')!.dataSync())).toEqual(
      Array.from(tf.matMul(tn, b, true, false).dataSync()),
    );
  });

  it.each(shapes)('a·bᵀ matches tf.matMul (n %i, p %i, m %i, k %i)', async (n, p, m, k) => {
    await createEngine('wasm');
    const a = random([n, p, k], 4);
    const b = random([n, m, k], 5);
    const got = batchedProduct(a, b, 'nt')!;
    expect(got.shape).toEqual([n, p, m]);
    expect(maxRelDiff(got, tf.matMul(a, b, false, true))).toBeLessThan(1e-6);
    // Deterministic: the same inputs give the same bits.
    expect(Array.from(batchedProduct(a, b, 'nt')!.dataSync())).toEqual(Array.from(got.dataSync()));
  });

  it('declines what it does not vectorise, and other backends', async () => {
    await createEngine('wasm');
    expect(batchedProduct(random([2, 3, 4], 1), random([2, 4, 8], 2), 'nn')).toBeNull();
    expect(batchedProduct(random([2, 3, 8], 1), random([2, 4, 8], 2), 'nt')).toBeNull();
    await createEngine('cpu');
    expect(batchedProduct(random([2, 3, 4], 1), random([2, 4, 16], 2), 'nn')).toBeNull();
    await createEngine('wasm');
  });
});
