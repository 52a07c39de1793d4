// K-sample log-rank test on right-censored times (the hypergeometric variance of R's
// `survdiff`); with two groups χ² = z² of scipy `logrank`, whose signed z is also returned.
import { chi2Sf, normalTwoSided } from './distributions.js';
import { solve } from './linear.js';

export interface LogrankResult {
  chi2: number;
  df: number;
  p: number;
  /** Two groups only: (O − E)/√V of the first group, scipy `logrank`'s statistic. */
  z: number | null;
}

export interface CensoredSample {
  time: readonly number[];
  observed: readonly boolean[];
}

/** Null when there are no events, fewer than two groups with expected events, or V is singular. */
export function logrank(groups: readonly CensoredSample[]): LogrankResult | null {
  const k = groups.length;
  if (k < 2) return null;
  const all: { t: number; g: number; d: boolean }[] = [];
  groups.forEach((s, g) => s.time.forEach((t, i) => all.push({ t, g, d: s.observed[i] === true })));
  all.sort((a, b) => a.t - b.t);
  const atRisk = groups.map((s) => s.time.length);
  let total = all.length;
  const oMinusE = new Float64Array(k);
  const v = Array.from({ length: k }, () => new Float64Array(k));
  const expected = new Float64Array(k);
  for (let i = 0; i < all.length;) {
    const t = all[i]!.t;
    const deathsBy = new Float64Array(k);
    const leaving = new Float64Array(k);
    let d = 0;
    let j = i;
    for (; j < all.length && all[j]!.t === t; j++) {
      const e = all[j]!;
      leaving[e.g]!++;
      if (e.d) {
        deathsBy[e.g]!++;
        d++;
      }
    }
    if (d > 0) {
      const n = total;
      for (let a = 0; a < k; a++) {
        const e = (d * atRisk[a]!) / n;
        expected[a]! += e;
        oMinusE[a]! += deathsBy[a]! - e;
        if (n > 1) {
          const f = (d * (n - d)) / (n * n * (n - 1));
          for (let b = 0; b < k; b++) {
            v[a]![b]! += f * atRisk[a]! * ((a === b ? n : 0) - atRisk[b]!);
          }
        }
      }
    }
    for (let a = 0; a < k; a++) atRisk[a]! -= leaving[a]!;
    total -= j - i;
    i = j;
  }
  // Groups with no expected events carry no information (R drops them from the df too).
  const used = [...Array(k).keys()].filter((a) => expected[a]! > 0);
  if (used.length < 2) return null;
  // V has rank K−1: solve on all used groups but the last.
  const idx = used.slice(0, -1);
  const sub = idx.map((a) => idx.map((b) => v[a]![b]!));
  const rhs = idx.map((a) => oMinusE[a]!);
  const x = solve(sub, rhs);
  if (x === null) return null;
  let chi2 = 0;
  idx.forEach((_, r) => (chi2 += rhs[r]! * x[r]!));
  const df = idx.length;
  if (k === 2 && df === 1) {
    const z = oMinusE[0]! / Math.sqrt(v[0]![0]!);
    return { chi2, df, p: normalTwoSided(z), z };
  }
  return { chi2, df, p: chi2Sf(chi2, df), z: null };
}
