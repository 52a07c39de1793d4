// Spearman rank correlation with scipy's t-distribution p-value, and Cliff's δ effect size.
import { tTwoSided } from './distributions.js';
import { rank } from './ranks.js';

export interface SpearmanResult {
  rho: number;
  p: number;
}

/** Null with fewer than 3 pairs or a constant variable (scipy returns NaN there). */
export function spearman(x: readonly number[], y: readonly number[]): SpearmanResult | null {
  const n = x.length;
  if (n < 3 || y.length !== n) return null;
  const rx = rank(x).ranks;
  const ry = rank(y).ranks;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += rx[i]!;
    my += ry[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = rx[i]! - mx;
    const dy = ry[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  const rho = Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
  const dof = n - 2;
  const t = rho * Math.sqrt(Math.max(0, dof / ((rho + 1) * (1 - rho))));
  return { rho, p: tTwoSided(t, dof) };
}

/** Cliff's δ = P(a > b) − P(a < b) over all pairs; null when either sample is empty. */
export function cliffsDelta(a: readonly number[], b: readonly number[]): number | null {
  if (a.length === 0 || b.length === 0) return null;
  let gt = 0;
  let lt = 0;
  for (const u of a) {
    for (const v of b) {
      if (u > v) gt++;
      else if (u < v) lt++;
    }
  }
  return (gt - lt) / (a.length * b.length);
}
