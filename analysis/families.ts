// Analysis families: one event × one axis × one combination of the other axes (the stratum).
// Rank tests run on the observed trials of levels with ≥ 2 of them; the log-rank test runs on
// all trials and is the primary result whenever a family has censored trials.
import type { EventTime } from './events.js';
import { compareLevels, levelKey, type AxisValue } from './trials.js';
import { kruskal, type KruskalResult } from './stats/kruskal.js';
import { jonckheere } from './stats/jonckheere.js';
import { mannWhitney } from './stats/mann-whitney.js';
import { holm } from './stats/multiple-testing.js';
import { cliffsDelta, spearman, type SpearmanResult } from './stats/correlation.js';
import { kaplanMeier } from './stats/kaplan-meier.js';
import { logrank } from './stats/logrank.js';
import { bootstrapMedianCi, createRng, hashSeed, median } from './stats/bootstrap.js';

export interface TrialEvents {
  trial_id: string;
  axes: Record<string, AxisValue>;
  events: Record<string, EventTime>;
}

export interface PairwiseResult {
  a: AxisValue;
  b: AxisValue;
  U: number;
  p: number;
  p_holm: number;
  cliffs_delta: number;
}

export interface GroupSummary {
  level: AxisValue;
  n: number;
  events: number;
  censored: number;
  km_median: number | null;
  km_median_ci: [number | null, number | null];
  /** Sample median of the event epochs and its bootstrap CI; null when the group has censoring. */
  median: number | null;
  median_ci: [number, number] | null;
}

export interface FamilyResult {
  event: string;
  axis: string;
  stratum: Record<string, AxisValue>;
  levels: AxisValue[];
  kruskal: KruskalResult | null;
  jonckheere: { p: number } | null;
  spearman: SpearmanResult | null;
  pairwise: PairwiseResult[] | null;
  logrank: { chi2: number; df: number; p: number } | null;
  kaplan_meier: { level: AxisValue; median: number | null }[];
  p_bh: number | null;
  /** Censored trials, left out of the rank tests (they enter the log-rank test). */
  censored_left_out: number;
  groups: GroupSummary[];
}

export interface FamilyOptions {
  confidence: number;
  bootstrap: { resamples: number; seed: number };
  /** Bootstrap CIs by event and data: a group appears in one family per axis, resampled once. */
  cache?: Map<string, [number, number] | null>;
}

/** Ordered axes (numbers, booleans) get the trend tests; a string axis is nominal. */
function numericLevel(v: AxisValue): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return null;
}

interface Level {
  value: AxisValue;
  time: number[];
  observed: boolean[];
}

function summarise(event: string, lv: Level, opts: FamilyOptions): GroupSummary {
  const km = kaplanMeier(lv.time, lv.observed, opts.confidence);
  const events = lv.observed.filter(Boolean).length;
  const censored = lv.time.length - events;
  let med: number | null = null;
  let ci: [number, number] | null = null;
  if (censored === 0) {
    med = median(lv.time);
    // The seed depends on the group, not on its position, so results are order-independent.
    const rng = createRng(
      hashSeed(opts.bootstrap.seed, `${event}\u0000${[...lv.time].sort((a, b) => a - b).join(',')}`),
    );
    ci = bootstrapMedianCi(lv.time, {
      resamples: opts.bootstrap.resamples,
      confidence: opts.confidence,
      rng,
    });
  }
  return {
    level: lv.value,
    n: lv.time.length,
    events,
    censored,
    km_median: km.median,
    km_median_ci: km.medianCi,
    median: med,
    median_ci: ci,
  };
}

export function analyseFamily(
  event: string,
  axis: string,
  stratum: Record<string, AxisValue>,
  trials: readonly TrialEvents[],
  opts: FamilyOptions,
): FamilyResult {
  const byLevel = new Map<string, Level>();
  for (const t of trials) {
    const e = t.events[event];
    if (!e) continue;
    const v = t.axes[axis] ?? null;
    const k = levelKey(v);
    let lv = byLevel.get(k);
    if (!lv) byLevel.set(k, (lv = { value: v, time: [], observed: [] }));
    lv.time.push(e.epoch);
    lv.observed.push(e.observed);
  }
  const levels = [...byLevel.values()].sort((a, b) => compareLevels(a.value, b.value));
  const observedOf = (lv: Level) => lv.time.filter((_, i) => lv.observed[i]);
  const testable = levels.filter((lv) => observedOf(lv).length >= 2);
  const samples = testable.map(observedOf);
  const censoredLeftOut = levels.reduce((s, lv) => s + lv.observed.filter((o) => !o).length, 0);

  let kw: KruskalResult | null = null;
  let jt: { p: number } | null = null;
  let rho: SpearmanResult | null = null;
  let pairwise: PairwiseResult[] | null = null;
  if (testable.length >= 2) {
    kw = kruskal(samples);
    const ordered = testable.every((lv) => numericLevel(lv.value) !== null);
    if (ordered) {
      const j = jonckheere(samples);
      jt = j && { p: j.p };
      const x = testable.flatMap((lv, i) => samples[i]!.map(() => numericLevel(lv.value)!));
      rho = spearman(x, samples.flat());
    }
    const raw: Omit<PairwiseResult, 'p_holm'>[] = [];
    for (let i = 0; i < testable.length; i++) {
      for (let j = i + 1; j < testable.length; j++) {
        const mw = mannWhitney(samples[i]!, samples[j]!);
        const d = cliffsDelta(samples[i]!, samples[j]!);
        if (mw && d !== null)
          raw.push({ a: testable[i]!.value, b: testable[j]!.value, U: mw.U, p: mw.p, cliffs_delta: d });
      }
    }
    const adjusted = holm(raw.map((r) => r.p));
    pairwise = raw.map((r, i) => ({
      a: r.a,
      b: r.b,
      U: r.U,
      p: r.p,
      p_holm: adjusted[i]!,
      cliffs_delta: r.cliffs_delta,
    }));
  }
  const lr = logrank(levels);
  const groups = levels.map((lv) => summarise(event, lv, opts));
  return {
    event,
    axis,
    stratum,
    levels: levels.map((lv) => lv.value),
    kruskal: kw,
    jonckheere: jt,
    spearman: rho,
    pairwise,
    logrank: lr && { chi2: lr.chi2, df: lr.df, p: lr.p },
    kaplan_meier: groups.map((g) => ({ level: g.level, median: g.km_median })),
    p_bh: null,
    censored_left_out: censoredLeftOut,
    groups,
  };
}
