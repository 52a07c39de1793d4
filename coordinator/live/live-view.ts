// What the live page shows, computed from the coordinator's registry (trial states, progress
// from heartbeats) and the probe series it has seen: per-level progress and, per level of the
// chosen axis, the median and IQR of the chosen probe (or user scalar) across trials at each
// epoch. Pure.
import type { Scheduler } from '../scheduler.js';
import { sweepStatus } from '../status.js';
import type { TrialRecord } from '../sweep-registry.js';
import type { ProbeSeriesStore, TrialSeries } from './probe-series.js';

export interface LiveQuery {
  sweep?: string;
  axis?: string;
  probe?: string;
}

/** [epoch, p25, median, p75, trials] */
export type CurvePoint = [number, number, number, number, number];

export interface LiveLevel {
  level: string;
  trials: number;
  epochs_done: number;
  epochs_total: number;
  curve: CurvePoint[];
}

export interface LiveSnapshot {
  sweeps: { id: string; state: string }[];
  sweep: string;
  state: string;
  trials_total: number;
  by_state: Record<string, number>;
  epochs_done: number;
  epochs_total: number;
  workers: number;
  axes: string[];
  axis: string;
  probes: readonly string[];
  /** The user scalars the sweep's trials reported (trainers' own names), sorted. */
  scalars: string[];
  /** The probe or user scalar drawn. */
  probe: string;
  /** Whether probe events reach this coordinator (embedded mode, or workers without NATS). */
  has_curves: boolean;
  levels: LiveLevel[];
}

function levelOf(t: TrialRecord, axis: string): string {
  if (!(axis in t.axes)) return '(none)';
  const v = t.axes[axis];
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Linear-interpolated quantile of sorted values (the same rule as ClickHouse's `quantile`). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Median and IQR of a probe or user scalar across trials, on the epochs every trial's thinning
 * keeps (multiples of the largest stride).
 */
export function levelCurve(series: readonly TrialSeries[], probe: string): CurvePoint[] {
  const stride = Math.max(1, ...series.map((s) => s.stride));
  const byEpoch = new Map<number, number[]>();
  for (const s of series) {
    const vs = s.values.get(probe);
    if (vs === undefined) continue;
    s.epochs.forEach((epoch, i) => {
      const v = vs[i];
      if (epoch % stride !== 0 || v === null || v === undefined) return;
      let list = byEpoch.get(epoch);
      if (list === undefined) byEpoch.set(epoch, (list = []));
      list.push(v);
    });
  }
  return [...byEpoch.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([epoch, values]) => {
      const sorted = values.sort((a, b) => a - b);
      return [
        epoch,
        quantileSorted(sorted, 0.25),
        quantileSorted(sorted, 0.5),
        quantileSorted(sorted, 0.75),
        sorted.length,
      ];
    });
}

export function liveSnapshot(scheduler: Scheduler, store: ProbeSeriesStore, q: LiveQuery): LiveSnapshot {
  const sweeps = scheduler.registry.list();
  const chosen = sweeps.find((s) => s.sweepId === q.sweep) ?? sweeps[sweeps.length - 1];
  const scalars = chosen === undefined ? [] : store.scalarNames(chosen.sweepId);
  const wanted = q.probe ?? '';
  const probe =
    (store.probes as readonly string[]).includes(wanted) || scalars.includes(wanted)
      ? wanted
      : store.probes[0]!;
  const base: LiveSnapshot = {
    sweeps: sweeps.map((s) => ({ id: s.sweepId, state: sweepStatus(scheduler, s, false).state })),
    sweep: '',
    state: 'none',
    trials_total: 0,
    by_state: {},
    epochs_done: 0,
    epochs_total: 0,
    workers: scheduler.workers,
    axes: [],
    axis: '',
    probes: store.probes,
    scalars,
    probe,
    has_curves: false,
    levels: [],
  };
  if (chosen === undefined) return base;
  const status = sweepStatus(scheduler, chosen, false);
  const trials = [...chosen.trials.values()];
  const axes = [...new Set(trials.flatMap((t) => Object.keys(t.axes)))].sort();
  const axis = axes.includes(q.axis ?? '') ? q.axis! : (axes[0] ?? '');
  const series = new Map(store.forSweep(chosen.sweepId).map((s) => [s.trialId, s]));
  const groups = new Map<string, TrialRecord[]>();
  for (const t of trials) {
    const level = levelOf(t, axis);
    let g = groups.get(level);
    if (g === undefined) groups.set(level, (g = []));
    g.push(t);
  }
  const levels = [...groups.entries()]
    .sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))
    .map(([level, ts]) => ({
      level,
      trials: ts.length,
      epochs_done: ts.reduce(
        (n, t) =>
          n + (t.state === 'leased' || t.state === 'pending' ? Math.min(t.epoch, t.epochs) : t.epochs),
        0,
      ),
      epochs_total: ts.reduce((n, t) => n + t.epochs, 0),
      curve: levelCurve(
        ts.flatMap((t) => series.get(t.trialId) ?? []),
        probe,
      ),
    }));
  return {
    ...base,
    sweep: chosen.sweepId,
    state: status.state,
    trials_total: status.trials_total,
    by_state: status.trials_by_state,
    epochs_done: status.epochs_done,
    epochs_total: status.epochs_total,
    axes,
    axis,
    has_curves: series.size > 0,
    levels,
  };
}
