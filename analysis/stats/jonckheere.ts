// Jonckheere–Terpstra trend test across ordered groups, tie-corrected normal approximation.
// Its statistic is equivalent to Kendall's S between the group index and the values, so the
// p-value is computed exactly as scipy `kendalltau(level_index, x, variant='b')` (asymptotic).
import { normalTwoSided } from './distributions.js';

export interface JonckheereResult {
  p: number;
  /** Kendall τ-b between group index and value; its sign gives the direction of the trend. */
  tau_b: number;
}

function tieStats(sizes: Iterable<number>): { pairs: number; t0: number; t1: number } {
  let pairs = 0;
  let t0 = 0;
  let t1 = 0;
  for (const t of sizes) {
    if (t < 2) continue;
    pairs += (t * (t - 1)) / 2;
    t0 += t * (t - 1) * (t - 2);
    t1 += t * (t - 1) * (2 * t + 5);
  }
  return { pairs, t0, t1 };
}

function countsOf(values: readonly number[]): number[] {
  const m = new Map<number, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m.values()];
}

/** Groups in their order; null when fewer than two groups, fewer than 3 values, or no variance. */
export function jonckheere(groups: readonly (readonly number[])[]): JonckheereResult | null {
  if (groups.length < 2) return null;
  const x: number[] = [];
  const y: number[] = [];
  groups.forEach((g, i) => g.forEach((v) => (x.push(i), y.push(v))));
  const n = x.length;
  if (n < 3) return null;
  // Concordant minus discordant pairs; tied pairs in either variable contribute 0.
  // The O(n²) loop is fine for the per-family sizes this runs on (tens to hundreds).
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - x[i]!;
      const dy = y[j]! - y[i]!;
      if (dx !== 0 && dy !== 0) s += dx > 0 === dy > 0 ? 1 : -1;
    }
  }
  const tx = tieStats(countsOf(x));
  const ty = tieStats(countsOf(y));
  const tot = (n * (n - 1)) / 2;
  const denom = Math.sqrt(tot - tx.pairs) * Math.sqrt(tot - ty.pairs);
  if (!(denom > 0)) return null;
  const m = n * (n - 1);
  const variance =
    (m * (2 * n + 5) - tx.t1 - ty.t1) / 18 +
    (2 * tx.pairs * ty.pairs) / m +
    (tx.t0 * ty.t0) / (9 * m * (n - 2));
  if (!(variance > 0)) return null;
  return { p: normalTwoSided(s / Math.sqrt(variance)), tau_b: s / denom };
}
