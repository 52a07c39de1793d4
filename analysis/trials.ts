// Rows (one per trial and epoch) into per-trial columnar series: the single input shape of the
// analysis, fed by the CSV reader today and by the stores later.
import { PhasesweepError } from '../spec/errors.js';
import type { ProbeSeries } from './events.js';

export type AxisValue = number | string | boolean | null;

export interface AnalysisRow {
  trial_id: string;
  seed: number;
  epoch: number;
  axes: Record<string, AxisValue>;
  probes: Record<string, number | null>;
}

export interface TrialSeries {
  trial_id: string;
  seed: number;
  axes: Record<string, AxisValue>;
  firstEpoch: number;
  /** Epochs firstEpoch … firstEpoch + length − 1; an epoch absent from the input reads as NaN. */
  length: number;
  /** Probe name → values by epoch, NaN where missing. */
  probes: Map<string, Float64Array>;
}

export function probeSeries(t: TrialSeries, name: string): ProbeSeries | undefined {
  const values = t.probes.get(name);
  return values && { firstEpoch: t.firstEpoch, values };
}

function sameAxes(a: Record<string, AxisValue>, b: Record<string, AxisValue>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.is(a[k], b[k]));
}

/**
 * Groups rows by trial in order of first appearance. A trial's seed and axes must agree on
 * every row and an epoch may appear once: anything else is a malformed input, not a result.
 */
export function buildTrials(rows: Iterable<AnalysisRow>): TrialSeries[] {
  interface Acc {
    first: AnalysisRow;
    rows: AnalysisRow[];
  }
  const byId = new Map<string, Acc>();
  for (const r of rows) {
    const acc = byId.get(r.trial_id);
    if (!acc) {
      byId.set(r.trial_id, { first: r, rows: [r] });
      continue;
    }
    if (r.seed !== acc.first.seed || !sameAxes(r.axes, acc.first.axes)) {
      throw new PhasesweepError(
        'INVALID_ARGUMENT',
        `trial ${r.trial_id}, epoch ${r.epoch}: seed or axes differ from its earlier rows`,
      );
    }
    acc.rows.push(r);
  }
  const out: TrialSeries[] = [];
  for (const [id, { first, rows: rs }] of byId) {
    let lo = Infinity;
    let hi = -Infinity;
    const names = new Set<string>();
    for (const r of rs) {
      if (!Number.isInteger(r.epoch) || r.epoch < 0) {
        throw new PhasesweepError(
          'INVALID_ARGUMENT',
          `trial ${id}: epoch ${r.epoch} is not a non-negative integer`,
        );
      }
      lo = Math.min(lo, r.epoch);
      hi = Math.max(hi, r.epoch);
      for (const k of Object.keys(r.probes)) names.add(k);
    }
    const length = hi - lo + 1;
    const seen = new Uint8Array(length);
    const probes = new Map<string, Float64Array>();
    for (const k of names) probes.set(k, new Float64Array(length).fill(NaN));
    for (const r of rs) {
      const i = r.epoch - lo;
      if (seen[i])
        throw new PhasesweepError('INVALID_ARGUMENT', `trial ${id}: epoch ${r.epoch} appears twice`);
      seen[i] = 1;
      for (const [k, v] of Object.entries(r.probes)) {
        if (v !== null && Number.isFinite(v)) probes.get(k)![i] = v;
      }
    }
    out.push({ trial_id: id, seed: first.seed, axes: { ...first.axes }, firstEpoch: lo, length, probes });
  }
  return out;
}

/** Axis names in order of first appearance. */
export function axisNames(trials: readonly TrialSeries[]): string[] {
  const names = new Set<string>();
  for (const t of trials) for (const k of Object.keys(t.axes)) names.add(k);
  return [...names];
}

const typeRank = (v: AxisValue) =>
  v === null ? 0 : typeof v === 'boolean' ? 1 : typeof v === 'number' ? 2 : 3;

/** Total order on level values: null, booleans, numbers, strings. */
export function compareLevels(a: AxisValue, b: AxisValue): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (a === b || a === null || b === null) return 0;
  return a < b ? -1 : 1;
}

/** Stable key of a level value (distinguishes 1 from "1"). */
export function levelKey(v: AxisValue): string {
  return JSON.stringify(v);
}
