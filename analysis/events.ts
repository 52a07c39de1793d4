// Per-trial threshold events with right-censoring: τ is the first epoch from which a criterion
// holds for a whole window of w epochs; a trial where that never happens is censored at
// (last epoch − w + 1), the last epoch at which a full window could still have started.

export type Comparison = '<=' | '<' | '>=' | '>';

export interface ThresholdCriterion {
  kind: 'threshold';
  probe: string;
  op: Comparison;
  /** Absolute threshold; exactly one of `value` and `fraction_of_max` is set. */
  value?: number;
  /** Threshold relative to the trial's own maximum of the probe. */
  fraction_of_max?: number;
}

export interface SteepestDeclineCriterion {
  kind: 'steepest_decline';
  probe: string;
  /** Width of the centred moving average applied before differencing (odd). */
  smooth: number;
}

export type Criterion = ThresholdCriterion | SteepestDeclineCriterion;

export interface EventDefinition {
  name: string;
  /** Tried in order: the first whose probe the trial has is used (e.g. purity, else eff_rank). */
  criteria: Criterion[];
  window: number;
}

export interface EventTime {
  epoch: number;
  observed: boolean;
}

/** A probe series over consecutive epochs from `firstEpoch`; NaN marks a missing value. */
export interface ProbeSeries {
  firstEpoch: number;
  values: Float64Array;
}

function compare(v: number, op: Comparison, ref: number): boolean {
  switch (op) {
    case '<=':
      return v <= ref;
    case '<':
      return v < ref;
    case '>=':
      return v >= ref;
    case '>':
      return v > ref;
  }
}

function censoredAt(s: ProbeSeries, window: number): EventTime {
  const last = s.firstEpoch + s.values.length - 1;
  return { epoch: Math.max(s.firstEpoch, last - window + 1), observed: false };
}

export function thresholdEvent(s: ProbeSeries, c: ThresholdCriterion, window: number): EventTime {
  const x = s.values;
  let ref = c.value ?? NaN;
  if (c.fraction_of_max !== undefined) {
    let max = -Infinity;
    for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
    ref = c.fraction_of_max * max;
  }
  // A missing value never satisfies the criterion: the window must be seen to hold.
  let run = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    run = !Number.isNaN(v) && compare(v, c.op, ref) ? run + 1 : 0;
    if (run >= window) return { epoch: s.firstEpoch + i - window + 1, observed: true };
  }
  return censoredAt(s, window);
}

/**
 * The epoch of steepest decline of the centred moving average (width `smooth`), by central
 * differences so the epoch sits in the middle of the drop; censored when the average never falls.
 */
export function steepestDeclineEvent(s: ProbeSeries, c: SteepestDeclineCriterion, window: number): EventTime {
  const x = s.values;
  const n = x.length;
  const h = Math.floor(c.smooth / 2);
  const avg = new Float64Array(n).fill(NaN);
  for (let i = h; i < n - h; i++) {
    let sum = 0;
    for (let k = i - h; k <= i + h; k++) sum += x[k]!;
    avg[i] = sum / (2 * h + 1);
  }
  let best = 0;
  let at = -1;
  for (let i = 1; i < n - 1; i++) {
    const g = (avg[i + 1]! - avg[i - 1]!) / 2;
    if (g < best) {
      best = g;
      at = i;
    }
  }
  return at < 0 ? censoredAt(s, window) : { epoch: s.firstEpoch + at, observed: true };
}

/** A series counts as present when it has at least one value. */
export function hasValues(s: ProbeSeries | undefined): s is ProbeSeries {
  return s !== undefined && s.values.some((v) => !Number.isNaN(v));
}

/** Null when the trial has none of the probes the event's criteria need (the event is skipped). */
export function detectEvent(
  def: EventDefinition,
  probe: (name: string) => ProbeSeries | undefined,
): EventTime | null {
  for (const c of def.criteria) {
    const s = probe(c.probe);
    if (!hasValues(s)) continue;
    return c.kind === 'threshold' ? thresholdEvent(s, c, def.window) : steepestDeclineEvent(s, c, def.window);
  }
  return null;
}

/** SCIENCE.md's defaults. */
export const DEFAULT_EVENTS: EventDefinition[] = [
  {
    name: 'stabilization',
    criteria: [{ kind: 'threshold', probe: 'rel_drift', op: '<=', fraction_of_max: 0.1 }],
    window: 5,
  },
  {
    name: 'alignment',
    criteria: [
      { kind: 'threshold', probe: 'cluster_purity', op: '>=', value: 0.9 },
      { kind: 'steepest_decline', probe: 'eff_rank', smooth: 5 },
    ],
    window: 5,
  },
  {
    name: 'generalization',
    criteria: [{ kind: 'threshold', probe: 'val_acc', op: '>=', value: 0.99 }],
    window: 5,
  },
];
