// Three-phase segmentation of a probe series under the L2 cost, reproducing ruptures
// `Dynp(model="l2", min_size, jump=1)` with 2 breakpoints and `Pelt(model="l2", min_size, jump=1)`,
// tie-breaking included (the first minimum wins, i.e. the earliest breakpoint).

export interface SegmentationOptions {
  /** Minimum segment length (ruptures `min_size`). */
  minSize: number;
  /** PELT penalty multiplier: pen = β · σ̂² · ln T with σ̂² the 3-segment cost / T. */
  beta: number;
}

export const DEFAULT_SEGMENTATION: SegmentationOptions = { minSize: 5, beta: 3 };

export interface Segmentation {
  /** Exclusive segment ends of the optimal 3-segment partition, T appended: [b1, b2, T]. */
  dynp3: [number, number, number];
  /** Its total L2 cost (sum of squared deviations from each segment's mean). */
  dynp3Cost: number;
  pelt: number[];
  penalty: number;
}

/** Prefix sums of the centred series: centring keeps the S2 − S1²/n cancellation small. */
class L2Cost {
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  constructor(readonly x: Float64Array) {
    const n = x.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i]!;
    mean /= n;
    this.s1 = new Float64Array(n + 1);
    this.s2 = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const v = x[i]! - mean;
      this.s1[i + 1] = this.s1[i]! + v;
      this.s2[i + 1] = this.s2[i]! + v * v;
    }
  }

  cost(start: number, end: number): number {
    const d = this.s1[end]! - this.s1[start]!;
    const c = this.s2[end]! - this.s2[start]! - (d * d) / (end - start);
    return c > 0 ? c : 0;
  }

  /** Two-pass cost, as numpy `var() * n`: used for the reported cost and the penalty. */
  exactCost(start: number, end: number): number {
    let m = 0;
    for (let i = start; i < end; i++) m += this.x[i]!;
    m /= end - start;
    let s = 0;
    for (let i = start; i < end; i++) s += (this.x[i]! - m) ** 2;
    return s;
  }
}

/** Best single split of [start, end) (segments ≥ minSize): [cost, split], split −1 if none. */
function bestSplit(cost: L2Cost, start: number, end: number, minSize: number): [number, number] {
  let best = Infinity;
  let at = -1;
  for (let b = start + minSize; b <= end - minSize; b++) {
    const v = cost.cost(start, b) + cost.cost(b, end);
    if (v < best) [best, at] = [v, b];
  }
  return [best, at];
}

/** Cost of a greedy (binary-segmentation) 3-segment partition: an upper bound of the optimum. */
function greedyBound(cost: L2Cost, n: number, minSize: number): number {
  const [, b] = bestSplit(cost, 0, n, minSize);
  if (b < 0) return Infinity;
  const left = bestSplit(cost, 0, b, minSize)[0] + cost.cost(b, n);
  const right = cost.cost(0, b) + bestSplit(cost, b, n, minSize)[0];
  return Math.min(left, right);
}

/**
 * Optimal 2-breakpoint partition. ruptures picks, for each last breakpoint b2, the first b1
 * minimising c(0,b1)+c(b1,b2), then the first b2 minimising that plus c(b2,T).
 */
function dynp3(cost: L2Cost, n: number, minSize: number): [number, number] {
  const { s1, s2 } = cost;
  // hs[b1] = c(0,b1) − S2[b1], so the inner loop evaluates c(0,b1) + c(b1,b2) as
  // hs[b1] + S2[b2] − (S1[b2] − S1[b1])²/(b2 − b1): three loads and four flops per candidate.
  const head = new Float64Array(n + 1);
  const hs = new Float64Array(n + 1);
  for (let b = minSize; b <= n; b++) {
    head[b] = cost.cost(0, b);
    hs[b] = head[b]! - s2[b]!;
  }
  // Pruning that cannot change the result: c(0,b1) never decreases as b1 grows and c(b1,b2) ≥ 0,
  // so once c(0,b1) + c(b2,T) exceeds an upper bound of the optimum (a greedy 3-segment
  // partition), no later b1 can win or tie for this b2. The slack covers prefix-sum rounding.
  const slack = 1e-9 * (s2[n]! + 1);
  const bound = greedyBound(cost, n, minSize) + slack;
  const inv = new Float64Array(n + 1);
  for (let len = 1; len <= n; len++) inv[len] = 1 / len;
  let best = Infinity;
  let bestB1 = -1;
  let bestB2 = -1;
  for (let b2 = 2 * minSize; b2 <= n - minSize; b2++) {
    const e1 = s1[b2]!;
    const e2 = s2[b2]!;
    let inner = Infinity;
    let innerB1 = -1;
    const last = b2 - minSize;
    const tail = cost.cost(b2, n);
    const cut = bound - tail;
    // The hot loop: O(T²/2) candidates over typed arrays, no allocation.
    for (let b1 = minSize; b1 <= last; b1++) {
      if (head[b1]! > cut) break;
      const d = e1 - s1[b1]!;
      const v = hs[b1]! + e2 - d * d * inv[b2 - b1]!;
      if (v < inner) {
        inner = v;
        innerB1 = b1;
      }
    }
    const total = inner + tail;
    if (total < best) {
      best = total;
      bestB1 = innerB1;
      bestB2 = b2;
    }
  }
  return [bestB1, bestB2];
}

/**
 * PELT as ruptures runs it with jump=1: candidate t = bkp − min_size joins the admissible set
 * at each step (those in (0, min_size) have no partition and drop out at once), the first
 * minimum wins, and t survives while F(t) + c(t,bkp) + pen ≤ F(bkp) + pen.
 */
function pelt(cost: L2Cost, n: number, minSize: number, pen: number): number[] {
  const { s1, s2 } = cost;
  const inv = new Float64Array(n + 1);
  for (let len = 1; len <= n; len++) inv[len] = 1 / len;
  const f = new Float64Array(n + 1);
  const prev = new Int32Array(n + 1);
  const adm = new Int32Array(n + 1);
  const vals = new Float64Array(n + 1);
  let size = 0;
  for (let bkp = minSize; bkp <= n; bkp++) {
    const t0 = bkp - minSize;
    if (t0 === 0 || t0 >= minSize) adm[size++] = t0;
    let best = Infinity;
    let arg = -1;
    const e1 = s1[bkp]!;
    const e2 = s2[bkp]!;
    for (let i = 0; i < size; i++) {
      const t = adm[i]!;
      const d = e1 - s1[t]!;
      let c = e2 - s2[t]! - d * d * inv[bkp - t]!;
      if (c < 0) c = 0;
      const v = f[t]! + (c + pen);
      vals[i] = v;
      if (v < best) {
        best = v;
        arg = t;
      }
    }
    f[bkp] = best;
    prev[bkp] = arg;
    // Compact in place, keeping ascending order (ruptures' list order decides ties).
    const limit = best + pen;
    let kept = 0;
    for (let i = 0; i < size; i++) if (vals[i]! <= limit) adm[kept++] = adm[i]!;
    size = kept;
  }
  const ends: number[] = [];
  for (let e = n; e > 0; e = prev[e]!) ends.push(e);
  return ends.reverse();
}

/** Null when the series is shorter than 3 minimum segments or has a non-finite value. */
export function segment(
  x: Float64Array,
  options: SegmentationOptions = DEFAULT_SEGMENTATION,
): Segmentation | null {
  const n = x.length;
  const { minSize, beta } = options;
  if (n < 3 * minSize) return null;
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i]!)) return null;
  const cost = new L2Cost(x);
  const [b1, b2] = dynp3(cost, n, minSize);
  // Summed in ruptures' order: ((c1 + c2) + c3).
  const dynp3Cost = cost.exactCost(0, b1) + cost.exactCost(b1, b2) + cost.exactCost(b2, n);
  const penalty = beta * (dynp3Cost / n) * Math.log(n);
  return { dynp3: [b1, b2, n], dynp3Cost, pelt: pelt(cost, n, minSize, penalty), penalty };
}
