// The SIMD dot-product kernel behind the Grams and cluster purity, against plain loops.
import { describe, expect, it } from 'vitest';
import { allDots } from '../../worker/probes/simd-dots.js';

function vectors(count: number, n: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length: count * n }, () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5);
}

function plainDots(x: Float64Array, xCount: number, y: Float64Array, yCount: number, n: number) {
  const out = new Float64Array(xCount * yCount);
  for (let a = 0; a < xCount; a++)
    for (let b = 0; b < yCount; b++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += x[a * n + r]! * y[b * n + r]!;
      out[a * yCount + b] = s;
    }
  return out;
}

describe('allDots', () => {
  it.each([
    [3, 4, 1],
    [5, 7, 13],
    [64, 64, 256],
    [2, 300, 64],
  ])('matches plain loops for %i × %i vectors of %i', (xCount, yCount, n) => {
    const x = vectors(xCount, n, 1);
    const y = vectors(yCount, n, 2);
    const got = allDots(x, xCount, y, yCount, n);
    const want = plainDots(x, xCount, y, yCount, n);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-12 * Math.max(1, n)));
  });

  it('computes only b ≥ a + upperFrom when asked, symmetric pairs bit-identical', () => {
    const n = 20;
    const x = vectors(6, n, 3);
    const full = allDots(x, 6, x, 6, n);
    const upper = allDots(x.subarray(2 * n), 4, x, 6, n, 2);
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 6; b++) {
        expect(upper[a * 6 + b]).toBe(b >= a + 2 ? full[(a + 2) * 6 + b] : 0);
        expect(full[a * 6 + b]).toBe(full[b * 6 + a]);
      }
  });

  it('grows its memory for large inputs and stays correct afterwards', () => {
    const n = 128;
    const big = vectors(1500, n, 4);
    const out = allDots(big, 1500, big, 1500, n);
    expect(out).toHaveLength(1500 * 1500);
    const want = plainDots(big.subarray(0, n), 1, big.subarray(7 * n, 8 * n), 1, n)[0]!;
    expect(Math.abs(out[7]! - want)).toBeLessThan(1e-12);
    const small = vectors(3, 8, 5);
    const expected = plainDots(small, 3, small, 3, 8);
    allDots(small, 3, small, 3, 8).forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-12));
  });
});
