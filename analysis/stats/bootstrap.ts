// Seeded percentile bootstrap confidence interval of a median, for groups without censoring.
// The generator is passed in, so a result depends only on the data and the seed.
import betainc from '@stdlib/math-base-special-betainc';

/** A uniform generator on [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough for resampling indices. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string, to derive a per-group seed that does not depend on group order. */
export function hashSeed(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Linear-interpolated quantile of sorted values (numpy's default `percentile`). */
function quantileSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface BootstrapOptions {
  resamples: number;
  confidence: number;
  rng: Rng;
}

/**
 * Draws the median of one bootstrap resample without building it. With the data sorted, a
 * resample is n uniform draws of positions; its lower median is at position L, the m-th smallest
 * draw, whose law is P(L ≤ k) = P(Bin(n, (k+1)/n) ≥ m) = I_{(k+1)/n}(m, n−m+1). For even n the
 * upper median R equals L unless exactly m draws fall at or below L, in which case it is the
 * smallest of the other n−m draws, uniform over the positions above L. Each draw costs
 * O(log n) instead of O(n), with exactly the distribution of resampling.
 */
export function createMedianSampler(sorted: Float64Array, rng: Rng): () => number {
  const n = sorted.length;
  const even = n % 2 === 0;
  const m = even ? n / 2 : (n + 1) / 2;
  const cdf = new Float64Array(n);
  for (let k = 0; k < n - 1; k++) cdf[k] = betainc((k + 1) / n, m, n - m + 1);
  cdf[n - 1] = 1;
  const logFact = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) logFact[i] = logFact[i - 1]! + Math.log(i);
  const logChoose = logFact[n]! - logFact[m]! - logFact[n - m]!;
  /** P(exactly m of n draws fall in a set of probability p). */
  const pmf = (p: number) => Math.exp(logChoose + m * Math.log(p) + (n - m) * Math.log1p(-p));
  return () => {
    const u = rng();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    const L = lo;
    if (!even) return sorted[L]!;
    const pL = cdf[L]! - (L > 0 ? cdf[L - 1]! : 0);
    // P(N≤L = m and at least one draw at L) = P(N≤L = m) − P(N<L = m, none at L).
    const pSplit = pmf((L + 1) / n) - (L > 0 ? pmf(L / n) * Math.pow(1 - 1 / (n - L), n - m) : 0);
    let R = L;
    if (pL > 0 && rng() * pL < pSplit) {
      // The smallest of n−m uniform draws over the K positions above L.
      const K = n - 1 - L;
      const j = Math.ceil(K - 1 - K * Math.pow(1 - rng(), 1 / (n - m)));
      R = L + 1 + Math.min(K - 1, Math.max(0, j));
    }
    return (sorted[L]! + sorted[R]!) / 2;
  };
}

/** Percentile CI of the median; null for fewer than 2 values. */
export function bootstrapMedianCi(
  values: readonly number[],
  opts: BootstrapOptions,
): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const draw = createMedianSampler(Float64Array.from(values).sort(), opts.rng);
  const stats = new Float64Array(opts.resamples);
  for (let r = 0; r < opts.resamples; r++) stats[r] = draw();
  stats.sort();
  const alpha = (1 - opts.confidence) / 2;
  return [quantileSorted(stats, alpha), quantileSorted(stats, 1 - alpha)];
}
