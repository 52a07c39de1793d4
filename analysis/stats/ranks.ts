// Average ranks with ties (scipy `rankdata(method='average')`) and the tie-group sizes that
// every tie correction needs.

export interface Ranking {
  /** 1-based average ranks, in input order. */
  ranks: Float64Array;
  /** Sizes of the groups of equal values, singletons included, in ascending value order. */
  tieSizes: number[];
}

export function rank(values: ArrayLike<number>): Ranking {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Float64Array(n);
  const tieSizes: number[] = [];
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j]!] === values[order[i]!]) j++;
    // Positions i..j−1 (0-based) share the mean of ranks i+1..j.
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]!] = avg;
    tieSizes.push(j - i);
    i = j;
  }
  return { ranks, tieSizes };
}

/** Σ (t³ − t) over tie groups. */
export function tieSum(tieSizes: readonly number[]): number {
  let s = 0;
  for (const t of tieSizes) s += t * t * t - t;
  return s;
}
