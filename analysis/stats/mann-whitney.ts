// Two-sided Mann–Whitney U test following scipy `mannwhitneyu(method='auto')`: the exact null
// distribution when either sample has at most 8 values and there are no ties, otherwise the
// normal approximation with tie and continuity correction.
import { normalSf } from './distributions.js';
import { rank, tieSum } from './ranks.js';

export interface MannWhitneyResult {
  /** U of the first sample. */
  U: number;
  p: number;
  method: 'exact' | 'asymptotic';
}

/**
 * Number of arrangements with U ≤ k for sample sizes m and n, by the lattice-path recursion
 * c(m, n, u) = c(m−1, n, u−n) + c(m, n−1, u). Float counts: exact up to 2^53, then relative
 * error near machine precision, which is all the p-value needs.
 */
function exactCdfCount(m: number, n: number, k: number): number {
  // Iterate over the larger size so the table has (min+1) rows.
  const small = Math.min(m, n);
  const large = Math.max(m, n);
  const width = k + 1;
  // rows[s][u] = c(s, l, u) for the current l; start at l = 0: only U = 0 possible.
  const rows = Array.from({ length: small + 1 }, () => new Float64Array(width));
  for (const row of rows) row[0] = 1;
  for (let l = 1; l <= large; l++) {
    // c(s, l, u) = c(s−1, l, u−l) + c(s, l−1, u): ascending s uses the already-updated row s−1.
    for (let s = 1; s <= small; s++) {
      const row = rows[s]!;
      const prev = rows[s - 1]!;
      for (let u = width - 1; u >= l; u--) row[u]! += prev[u - l]!;
    }
  }
  const last = rows[small]!;
  let total = 0;
  for (let u = 0; u < width; u++) total += last[u]!;
  return total;
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitneyResult | null {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return null;
  const { ranks, tieSizes } = rank([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const U1 = r1 - (n1 * (n1 + 1)) / 2;
  const U2 = n1 * n2 - U1;
  const U = Math.max(U1, U2);
  const ties = tieSizes.some((t) => t > 1);
  if ((n1 <= 8 || n2 <= 8) && !ties) {
    // sf(U) = P(U ≥ Umax) = P(U ≤ n1·n2 − Umax) by symmetry; two-sided doubles it.
    const count = exactCdfCount(n1, n2, n1 * n2 - U);
    const p = (2 * count) / binomial(n1 + n2, Math.min(n1, n2));
    return { U: U1, p: Math.min(1, Math.max(0, p)), method: 'exact' };
  }
  const n = n1 + n2;
  const s = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieSum(tieSizes) / (n * (n - 1))));
  // Always subtracting 0.5 is scipy's continuity correction: U is the larger of U1, U2.
  const z = (U - (n1 * n2) / 2 - 0.5) / s;
  const p = s > 0 ? 2 * normalSf(z) : NaN;
  if (Number.isNaN(p)) return null;
  return { U: U1, p: Math.min(1, Math.max(0, p)), method: 'asymptotic' };
}
