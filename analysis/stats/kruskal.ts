// Kruskal–Wallis H test with the tie correction, as scipy `stats.kruskal`.
import { chi2Sf } from './distributions.js';
import { rank, tieSum } from './ranks.js';

export interface KruskalResult {
  H: number;
  p: number;
}

/** Null when fewer than two groups, an empty group, or all values identical (scipy raises there). */
export function kruskal(groups: readonly (readonly number[])[]): KruskalResult | null {
  if (groups.length < 2 || groups.some((g) => g.length === 0)) return null;
  const all = groups.flat();
  const n = all.length;
  const { ranks, tieSizes } = rank(all);
  const correction = 1 - tieSum(tieSizes) / (n * n * n - n);
  if (correction === 0) return null;
  let ssbn = 0;
  let offset = 0;
  for (const g of groups) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += ranks[offset + i]!;
    ssbn += (s * s) / g.length;
    offset += g.length;
  }
  const H = ((12 / (n * (n + 1))) * ssbn - 3 * (n + 1)) / correction;
  return { H, p: chi2Sf(H, groups.length - 1) };
}
