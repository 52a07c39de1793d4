// Sampled (continuous) sweep axes: n joint points over all sampled axes, from a seeded uniform
// generator or an unscrambled Sobol sequence, mapped onto each axis's range. Pure.
import { createHash } from 'node:crypto';

export interface SampledAxis {
  sample: 'uniform' | 'log-uniform';
  min: number;
  max: number;
}

/**
 * Direction numbers (Joe & Kuo, new-joe-kuo-6.21201) for dimensions 2…8: degree s, polynomial
 * coefficients a, initial m_i. Dimension 1 is the van der Corput sequence.
 */
const JOE_KUO: readonly { s: number; a: number; m: number[] }[] = [
  { s: 1, a: 0, m: [1] },
  { s: 2, a: 1, m: [1, 3] },
  { s: 3, a: 1, m: [1, 3, 1] },
  { s: 3, a: 2, m: [1, 1, 1] },
  { s: 4, a: 1, m: [1, 1, 3, 3] },
  { s: 4, a: 4, m: [1, 3, 5, 13] },
  { s: 5, a: 2, m: [1, 1, 5, 5, 17] },
];
export const MAX_SOBOL_DIMS = JOE_KUO.length + 1;
const BITS = 32;

function directions(dim: number): number[] {
  const v = new Array<number>(BITS);
  if (dim === 0) {
    for (let i = 0; i < BITS; i++) v[i] = 2 ** (BITS - 1 - i);
    return v;
  }
  const { s, a, m } = JOE_KUO[dim - 1]!;
  for (let i = 0; i < s; i++) v[i] = m[i]! * 2 ** (BITS - 1 - i);
  for (let i = s; i < BITS; i++) {
    let x = v[i - s]! ^ (v[i - s]! >>> s);
    for (let k = 1; k < s; k++) if ((a >>> (s - 1 - k)) & 1) x ^= v[i - k]!;
    v[i] = x >>> 0;
  }
  return v;
}

/** The first n points of the unscrambled Sobol sequence in [0,1)^dims, as scipy's qmc.Sobol(scramble=False). */
export function sobolPoints(n: number, dims: number): number[][] {
  if (dims > MAX_SOBOL_DIMS) throw new Error(`Sobol sampling supports at most ${MAX_SOBOL_DIMS} axes`);
  const v = Array.from({ length: dims }, (_, d) => directions(d));
  const x = new Array<number>(dims).fill(0);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    out.push(x.map((xi) => xi / 2 ** BITS));
    // Gray-code order: flip the direction of the lowest zero bit of i.
    let c = 0;
    while ((i >>> c) & 1) c++;
    for (let d = 0; d < dims; d++) x[d] = (x[d]! ^ v[d]![c]!) >>> 0;
  }
  return out;
}

/** n uniform points in [0,1)^dims derived from a seed by SHA-256 in counter mode. */
export function randomPoints(n: number, dims: number, seed: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: dims }, (_, d) => {
      const h = createHash('sha256').update(`phasesweep-sample:${seed}:${i}:${d}`).digest();
      return (h.readUInt32BE(0) * 2 ** 21 + (h.readUInt32BE(4) >>> 11)) / 2 ** 53;
    }),
  );
}

export function mapToAxis(u: number, axis: SampledAxis): number {
  if (axis.sample === 'log-uniform')
    return Math.exp(Math.log(axis.min) + u * (Math.log(axis.max) - Math.log(axis.min)));
  return axis.min + u * (axis.max - axis.min);
}
