// Seeded percentile bootstrap confidence interval of a median, for groups without censoring.
// The generator is passed in, so a result depends only on the data and the seed.

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

/** Percentile CI of the median; null for fewer than 2 values. */
export function bootstrapMedianCi(
  values: readonly number[],
  opts: BootstrapOptions,
): [number, number] | null {
  const n = values.length;
  if (n < 2) return null;
  const sorted = Float64Array.from(values).sort();
  // A resample's median is a function of which sorted positions were drawn: count the draws per
  // position and walk the counts, O(n) per resample without sorting.
  const counts = new Int32Array(n);
  const stats = new Float64Array(opts.resamples);
  const lowRank = (n - 1) >> 1;
  const highRank = n >> 1;
  for (let r = 0; r < opts.resamples; r++) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[Math.floor(opts.rng() * n)]!++;
    let seen = 0;
    let lo = NaN;
    let hi = NaN;
    for (let k = 0; k < n; k++) {
      const next = seen + counts[k]!;
      if (Number.isNaN(lo) && lowRank < next) lo = sorted[k]!;
      if (highRank < next) {
        hi = sorted[k]!;
        break;
      }
      seen = next;
    }
    stats[r] = (lo + hi) / 2;
  }
  stats.sort();
  const alpha = (1 - opts.confidence) / 2;
  return [quantileSorted(stats, alpha), quantileSorted(stats, 1 - alpha)];
}
