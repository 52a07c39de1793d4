// Eigenvalues without eigenvectors against ml-matrix's full symmetric decomposition.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { crossGram } from '../../worker/probes/dense.js';
import { symmetricEigenvalues } from '../../worker/probes/eigen.js';

function reference(a: Float64Array, n: number): number[] {
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, a[i * n + j]!);
  return new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues.sort((x, y) => y - x);
}

function gramOf(rows: number, cols: number, seed: number): Float64Array {
  let s = seed;
  const data = Float64Array.from(
    { length: rows * cols },
    () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5,
  );
  return crossGram({ rows, cols, data }, { rows, cols, data });
}

describe('symmetricEigenvalues', () => {
  it.each([
    ['full-rank Gram 256×64', gramOf(256, 64, 1), 64],
    ['full-rank Gram 1024×128', gramOf(1024, 128, 2), 128],
    ['rank-deficient Gram 20×32', gramOf(20, 32, 3), 32],
    ['1×1', Float64Array.of(4), 1],
    ['2×2', Float64Array.of(2, 1, 1, 2), 2],
    ['zero matrix', new Float64Array(9), 3],
    ['diagonal with repeats', Float64Array.of(3, 0, 0, 0, 1, 0, 0, 0, 3), 3],
  ])('matches a full decomposition to 1e-13 of the largest (%s)', (_name, a, n) => {
    const got = Array.from(symmetricEigenvalues(a, n)).sort((x, y) => y - x);
    const want = reference(a, n);
    const scale = Math.max(Math.abs(want[0]!), Math.abs(want.at(-1)!), 1e-300);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!) / scale).toBeLessThan(1e-13));
  });

  it('leaves its input untouched', () => {
    const a = gramOf(30, 8, 4);
    const copy = Float64Array.from(a);
    symmetricEigenvalues(a, 8);
    expect(a).toEqual(copy);
  });
});
