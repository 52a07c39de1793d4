// A bounded in-memory copy of the probe curves the coordinator sees, for the live page: a few
// probes and the first `maxScalars` user scalars per trial, at most `maxPoints` points each
// (thinned by doubling the epoch stride when full) and at most `maxTrials` trials (oldest
// dropped). Pure; fed with probe event batches.
import { isUserScalarName } from '../../pipeline/index.js';
import type { ProbeEvent } from '../../proto/index.js';
import type { ProbeName } from '../../spec/probes.js';

export const LIVE_PROBES: readonly ProbeName[] = [
  'loss',
  'val_loss',
  'train_acc',
  'val_acc',
  'eff_rank',
  'stability',
  'rel_drift',
  'cluster_purity',
];

export interface ProbeSeriesOptions {
  probes?: readonly ProbeName[];
  maxPoints?: number;
  maxTrials?: number;
  /** User scalars kept per trial (the first names it reports); default 16. */
  maxScalars?: number;
}

export interface TrialSeries {
  readonly sweepId: string;
  readonly trialId: string;
  attempt: number;
  /** Kept epochs are multiples of the stride; it doubles whenever the series is full. */
  stride: number;
  epochs: number[];
  /**
   * One array per probe and per user scalar the trial reported, aligned with `epochs`; null where
   * the probe was not computed or the scalar not reported. A scalar's name is never a probe's.
   */
  values: Map<string, (number | null)[]>;
}

export class ProbeSeriesStore {
  readonly probes: readonly ProbeName[];
  private readonly maxPoints: number;
  private readonly maxTrials: number;
  private readonly maxScalars: number;
  private readonly trials = new Map<string, TrialSeries>();
  /** Bumped on every change, so readers can tell whether anything is new. */
  version = 0;

  constructor(o: ProbeSeriesOptions = {}) {
    this.probes = o.probes ?? LIVE_PROBES;
    this.maxPoints = Math.max(4, o.maxPoints ?? 128);
    this.maxTrials = Math.max(1, o.maxTrials ?? 2_000);
    this.maxScalars = Math.max(0, o.maxScalars ?? 16);
  }

  add(events: readonly ProbeEvent[]): void {
    for (const e of events) this.addOne(e);
  }

  /** The series of one sweep's trials. */
  forSweep(sweepId: string): TrialSeries[] {
    return [...this.trials.values()].filter((t) => t.sweepId === sweepId);
  }

  /** The user scalars any trial of the sweep reported, sorted by name. */
  scalarNames(sweepId: string): string[] {
    const names = new Set<string>();
    for (const t of this.trials.values()) {
      if (t.sweepId !== sweepId) continue;
      for (const name of t.values.keys()) if (!this.isProbe(name)) names.add(name);
    }
    return [...names].sort();
  }

  get size(): number {
    return this.trials.size;
  }

  private isProbe(name: string): boolean {
    return (this.probes as readonly string[]).includes(name);
  }

  private addOne(e: ProbeEvent): void {
    const key = `${e.sweep_id}\u0000${e.trial_id}`;
    let t = this.trials.get(key);
    if (t === undefined) {
      t = {
        sweepId: e.sweep_id,
        trialId: e.trial_id,
        attempt: e.attempt,
        stride: 1,
        epochs: [],
        values: new Map(),
      };
      for (const p of this.probes) t.values.set(p, []);
      this.trials.set(key, t);
      if (this.trials.size > this.maxTrials) this.trials.delete(this.trials.keys().next().value!);
    }
    if (e.attempt < t.attempt) return; // a zombie attempt: the coordinator already moved on
    if (e.attempt > t.attempt || (t.epochs.length > 0 && e.epoch <= t.epochs[t.epochs.length - 1]!)) {
      // A new attempt (possibly resumed from a checkpoint) rewrites the curve from its first epoch.
      t.attempt = e.attempt;
      this.keep(t, (epoch) => epoch < e.epoch);
    }
    if (e.epoch % t.stride !== 0) return;
    t.epochs.push(e.epoch);
    for (const p of this.probes) {
      const v = e[p];
      t.values.get(p)!.push(v === undefined || !Number.isFinite(v) ? null : v);
    }
    this.addScalars(t, e.scalars);
    if (t.epochs.length > this.maxPoints) {
      t.stride *= 2;
      const stride = t.stride;
      this.keep(t, (epoch) => epoch % stride === 0);
    }
    this.version++;
  }

  /** The event's user scalars, after its probes; a scalar first seen now is null before. */
  private addScalars(t: TrialSeries, scalars: ProbeEvent['scalars']): void {
    const n = t.epochs.length;
    let added = false;
    for (const name in scalars) {
      if (!Object.hasOwn(scalars, name) || !isUserScalarName(name)) continue;
      let vs = t.values.get(name);
      if (vs === undefined) {
        if (t.values.size - this.probes.length >= this.maxScalars) continue;
        t.values.set(name, (vs = new Array<number | null>(n - 1).fill(null)));
      }
      const v = scalars[name]!;
      vs.push(Number.isFinite(v) ? v : null);
      added = true;
    }
    if (!added && t.values.size === this.probes.length) return;
    for (const vs of t.values.values()) if (vs.length < n) vs.push(null);
  }

  private keep(t: TrialSeries, pred: (epoch: number) => boolean): void {
    const idx: number[] = [];
    t.epochs.forEach((epoch, i) => {
      if (pred(epoch)) idx.push(i);
    });
    if (idx.length === t.epochs.length) return;
    t.epochs = idx.map((i) => t.epochs[i]!);
    for (const [p, vs] of t.values)
      t.values.set(
        p,
        idx.map((i) => vs[i] ?? null),
      );
    this.version++;
  }
}
