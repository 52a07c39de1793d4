// The embedding-matrix probes of SCIENCE.md, from W_{t−1}, W_t and G_t, all in Float64.
// Pure: the same function serves training epochs and `phasesweep probe` against fixtures.
import type { ProbeValues } from '../../spec/index.js';
import { allDots } from './simd-dots.js';
import {
  centreColumns,
  crossGram,
  distance,
  dot,
  frobenius,
  toDense,
  unitRows,
  type Dense,
  type MatrixLike,
} from './dense.js';
import { singularValues, spectralProbes } from './spectrum.js';

export interface MatrixProbeInput {
  W_prev: MatrixLike;
  W: MatrixLike;
  G: MatrixLike;
  /** Latent cluster of each row (token), for `cluster_purity`. */
  clusters?: ArrayLike<number> | null;
  /** Column count, required when the matrices are flat arrays. */
  cols?: number;
  /** The previous call's memo, used when its W is this W_prev. */
  memo?: MatrixProbeMemo | null;
}

/**
 * What one epoch's probes leave for the next, whose W_prev is this W: the norm of its centred
 * Gram, ‖YᵀY‖ of the next CKA (a third of CKA's work). Kept with the values it belongs to and
 * used only when they match exactly.
 */
export interface MatrixProbeMemo {
  w: Float64Array;
  centredGramNorm: number;
}

export interface MatrixProbeResult {
  probes: ProbeValues;
  singularValues: number[];
  memo: MatrixProbeMemo;
}

type UnitRows = ReturnType<typeof unitRows>;

const ratio = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a / b) ? a / b : null);

/** Mean cosine over ordered pairs of non-zero rows: (‖Σu_i‖² − n)/(n(n−1)), O(Vd). */
export function meanPairwiseCos(w: Dense, rows: UnitRows = unitRows(w)): number | null {
  const { units, nonZero } = rows;
  const sum = new Float64Array(w.cols);
  let n = 0;
  for (let r = 0; r < w.rows; r++) {
    if (!nonZero[r]) continue;
    n++;
    for (let j = 0; j < w.cols; j++) sum[j] = sum[j]! + units[r * w.cols + j]!;
  }
  if (n < 2) return null;
  return (dot(sum, sum) - n) / (n * (n - 1));
}

/** Linear CKA (Kornblith et al. 2019), rows as examples, columns centred. */
export function linearCka(x: Dense, y: Dense): number | null {
  return ckaWithNorms(x, y).cka;
}

/** CKA and ‖XᵀX‖ (centred), given ‖YᵀY‖ when it is known already. */
function ckaWithNorms(x: Dense, y: Dense, yy?: number): { cka: number | null; xx: number } {
  const xc = centreColumns(x);
  const yc = centreColumns(y);
  const yx = frobenius(crossGram(yc, xc));
  const xx = frobenius(crossGram(xc, xc));
  return { cka: ratio(yx * yx, xx * (yy ?? frobenius(crossGram(yc, yc)))), xx };
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Fraction of tokens whose nearest other token by cosine shares its latent cluster.
 * Zero rows have no direction: they neither count nor serve as neighbours. Ties go to the
 * lowest token id.
 */
export function clusterPurity(
  w: Dense,
  clusters: ArrayLike<number>,
  unit: UnitRows = unitRows(w),
): number | null {
  const { rows, cols } = w;
  if (clusters.length !== rows)
    throw new RangeError(`clusters has ${clusters.length} entries for ${rows} rows`);
  const { units, nonZero } = unit;
  const best = new Float64Array(rows).fill(-Infinity);
  const arg = new Int32Array(rows).fill(-1);
  const offer = (i: number, j: number, c: number) => {
    if (c > best[i]!) {
      best[i] = c;
      arg[i] = j;
    }
    if (c > best[j]!) {
      best[j] = c;
      arg[j] = i;
    }
  };
  // Each pair once (the cosine matrix is symmetric), a block of rows i against the rows j > i
  // at a time (≤ 4M cosines in memory), visiting every row's candidates in increasing index so
  // that ties go to the lowest.
  const block = Math.max(1, Math.floor(2 ** 22 / rows));
  for (let i0 = 0; i0 < rows; i0 += block) {
    const i1 = Math.min(rows, i0 + block);
    const cos = allDots(units.subarray(i0 * cols, i1 * cols), i1 - i0, units, rows, cols, i0);
    for (let i = i0; i < i1; i++) {
      if (!nonZero[i]) continue;
      const row = (i - i0) * rows;
      for (let j = i + 1; j < rows; j++) if (nonZero[j]) offer(i, j, cos[row + j]!);
    }
  }
  let counted = 0;
  let same = 0;
  for (let i = 0; i < rows; i++) {
    if (arg[i]! < 0) continue;
    counted++;
    if (clusters[arg[i]!] === clusters[i]) same++;
  }
  return counted > 0 ? same / counted : null;
}

/** Every matrix probe; non-finite values (a diverging run) are reported as null. */
export function computeMatrixProbes(input: MatrixProbeInput): MatrixProbeResult {
  const w = toDense(input.W, input.cols);
  const wPrev = toDense(input.W_prev, w.cols);
  const g = toDense(input.G, w.cols);
  if (wPrev.rows !== w.rows || wPrev.cols !== w.cols || g.rows !== w.rows || g.cols !== w.cols) {
    throw new RangeError(`W_prev, W and G must have the same shape (${w.rows}×${w.cols})`);
  }
  const embNorm = frobenius(w.data);
  const prevNorm = frobenius(wPrev.data);
  const drift = distance(w.data, wPrev.data);
  const gradNorm = frobenius(g.data);
  const sv = singularValues(w);
  const units = unitRows(w);
  const memo = input.memo && sameValues(input.memo.w, wPrev.data) ? input.memo : null;
  const cka = ckaWithNorms(w, wPrev, memo?.centredGramNorm);
  const probes: ProbeValues = {
    emb_norm: embNorm,
    drift,
    rel_drift: ratio(drift, prevNorm),
    stability: ratio(dot(w.data, wPrev.data), embNorm * prevNorm),
    mean_pairwise_cos: meanPairwiseCos(w, units),
    ...spectralProbes(sv),
    grad_norm: gradNorm,
    grad_drift_ratio: ratio(gradNorm, drift),
    cka_prev: cka.cka,
  };
  if (input.clusters) probes.cluster_purity = clusterPurity(w, input.clusters, units);
  for (const [k, v] of Object.entries(probes)) {
    if (typeof v === 'number' && !Number.isFinite(v)) probes[k as keyof ProbeValues] = null;
  }
  return { probes, singularValues: sv, memo: { w: w.data.slice(), centredGramNorm: cka.xx } };
}
