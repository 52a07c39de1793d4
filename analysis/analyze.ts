// The whole analysis: per-trial events and segments, then every family's tests, in the shape
// of SCIENCE.md's `analyze --json` interface. Pure: rows or series in, a plain object out.
import { PhasesweepError } from '../spec/errors.js';
import { detectEvent, type EventTime } from './events.js';
import { analyseFamily, type FamilyResult, type TrialEvents } from './families.js';
import { segment } from './segmentation.js';
import { benjaminiHochberg } from './stats/multiple-testing.js';
import { resolveAnalysisSpec, type AnalysisSpec } from './analysis-spec.js';
import {
  axisNames,
  buildTrials,
  compareLevels,
  levelKey,
  probeSeries,
  type AnalysisRow,
  type AxisValue,
  type TrialSeries,
} from './trials.js';

export interface TrialResult {
  trial_id: string;
  seed: number;
  axes: Record<string, AxisValue>;
  events: Record<string, EventTime>;
  segments: { dynp3: number[] | null; pelt: number[] | null };
}

export interface AnalysisResult {
  trials: TrialResult[];
  families: FamilyResult[];
}

export function analyseTrial(t: TrialSeries, spec: AnalysisSpec): TrialResult {
  const events: Record<string, EventTime> = {};
  for (const def of spec.events) {
    const e = detectEvent(def, (name) => probeSeries(t, name));
    if (e) events[def.name] = e;
  }
  const raw = t.probes.get(spec.segmentation.probe);
  let segments: TrialResult['segments'] = { dynp3: null, pelt: null };
  if (raw) {
    const x = spec.segmentation.log ? raw.map(Math.log) : raw;
    // segment() refuses non-finite input: a missing epoch or a non-positive drift means no segmentation.
    const s = segment(x, { minSize: spec.segmentation.minSize, beta: spec.segmentation.beta });
    if (s) segments = { dynp3: s.dynp3, pelt: s.pelt };
  }
  return { trial_id: t.trial_id, seed: t.seed, axes: t.axes, events, segments };
}

function familyAxes(trials: readonly TrialResult[], axes: string[], spec: AnalysisSpec): string[] {
  if (spec.axes) {
    const unknown = spec.axes.filter((a) => !axes.includes(a));
    if (unknown.length > 0) {
      throw new PhasesweepError(
        'INVALID_ARGUMENT',
        `analysis spec: families.axes: no axis named ${unknown.join(', ')} in the input`,
      );
    }
    return spec.axes;
  }
  // An axis with one value across the whole sweep is a constant, not something to test across.
  return axes.filter((a) => new Set(trials.map((t) => levelKey(t.axes[a] ?? null))).size >= 2);
}

/** Families from per-trial events: event order of the spec, axis order of the input, strata sorted. */
export function analyseFamilies(
  trials: readonly TrialResult[],
  spec: AnalysisSpec,
  axes: string[],
): FamilyResult[] {
  const families: FamilyResult[] = [];
  const tested = familyAxes(trials, axes, spec);
  const opts = {
    confidence: spec.confidence,
    bootstrap: spec.bootstrap,
    cache: new Map<string, [number, number] | null>(),
  };
  for (const def of spec.events) {
    const withEvent: TrialEvents[] = trials.filter((t) => t.events[def.name] !== undefined);
    if (withEvent.length === 0) continue;
    for (const axis of tested) {
      const others = axes.filter((a) => a !== axis);
      const strata = new Map<string, { stratum: Record<string, AxisValue>; trials: TrialEvents[] }>();
      for (const t of withEvent) {
        const stratum = Object.fromEntries(others.map((a) => [a, t.axes[a] ?? null]));
        const key = others.map((a) => levelKey(stratum[a] ?? null)).join('\u0000');
        let s = strata.get(key);
        if (!s) strata.set(key, (s = { stratum, trials: [] }));
        s.trials.push(t);
      }
      const sorted = [...strata.values()].sort((x, y) => {
        for (const a of others) {
          const c = compareLevels(x.stratum[a] ?? null, y.stratum[a] ?? null);
          if (c !== 0) return c;
        }
        return 0;
      });
      for (const s of sorted) families.push(analyseFamily(def.name, axis, s.stratum, s.trials, opts));
    }
  }
  // Benjamini–Hochberg across the families that have a Kruskal–Wallis p.
  const withP = families.filter((f) => f.kruskal !== null);
  const adjusted = benjaminiHochberg(withP.map((f) => f.kruskal!.p));
  withP.forEach((f, i) => (f.p_bh = adjusted[i]!));
  return families;
}

export function analyseSeries(
  trials: readonly TrialSeries[],
  spec: AnalysisSpec = resolveAnalysisSpec(),
): AnalysisResult {
  const results = trials.map((t) => analyseTrial(t, spec));
  return { trials: results, families: analyseFamilies(results, spec, axisNames(trials)) };
}

/**
 * The entry point for in-memory rows (CSV today, the stores later). `spec` may be a resolved
 * spec or the raw spec object; omitted, SCIENCE.md's defaults apply.
 */
export function analyzeRows(
  rows: Iterable<AnalysisRow>,
  spec?: AnalysisSpec | Record<string, unknown>,
): AnalysisResult {
  const resolved =
    spec === undefined ? resolveAnalysisSpec() : isResolved(spec) ? spec : resolveAnalysisSpec(spec);
  return analyseSeries(buildTrials(rows), resolved);
}

function isResolved(s: AnalysisSpec | Record<string, unknown>): s is AnalysisSpec {
  const seg = (s as Record<string, unknown>)['segmentation'];
  return typeof seg === 'object' && seg !== null && 'minSize' in seg;
}
