// The report's four SVG plots: probe curves per axis level (median and IQR band across trials),
// event epochs per level (dots and boxes), Kaplan–Meier curves, and per-trial phase timelines.
import type { TrialResult } from '../analyze.js';
import type { FamilyResult } from '../families.js';
import { kaplanMeier } from '../stats/kaplan-meier.js';
import { levelKey, type AxisValue, type TrialSeries } from '../trials.js';
import { fmtLevel } from './format.js';
import { FRAME, axes, color, esc, legend, linePath, scale, svg, type Frame } from './svg.js';

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const plotX = (f: Frame) => [f.left, f.width - f.right] as [number, number];
const plotY = (f: Frame) => [f.height - f.bottom, f.top] as [number, number];

/** One line per level: the per-epoch median across the level's trials, IQR as a band. */
export function probeCurves(
  trials: readonly TrialSeries[],
  axis: string,
  probe: string,
  levels: AxisValue[],
): string | null {
  const byLevel = levels.map((lv) =>
    trials.filter((t) => levelKey(t.axes[axis] ?? null) === levelKey(lv) && t.probes.has(probe)),
  );
  if (byLevel.every((g) => g.length === 0)) return null;
  let e0 = Infinity;
  let e1 = -Infinity;
  for (const g of byLevel)
    for (const t of g) [e0, e1] = [Math.min(e0, t.firstEpoch), Math.max(e1, t.firstEpoch + t.length - 1)];
  // At most ~300 points per curve keeps the file small for long runs.
  const stride = Math.max(1, Math.ceil((e1 - e0 + 1) / 300));
  const curves = byLevel.map((g) => {
    const pts: { e: number; q1: number; med: number; q3: number }[] = [];
    for (let e = e0; e <= e1; e += stride) {
      const vals: number[] = [];
      for (const t of g) {
        const v = t.probes.get(probe)![e - t.firstEpoch];
        if (v !== undefined && Number.isFinite(v)) vals.push(v);
      }
      if (vals.length === 0) continue;
      vals.sort((a, b) => a - b);
      pts.push({ e, q1: quantile(vals, 0.25), med: quantile(vals, 0.5), q3: quantile(vals, 0.75) });
    }
    return pts;
  });
  const all = curves.flat();
  const lo = Math.min(...all.map((p) => p.q1));
  const hi = Math.max(...all.map((p) => p.q3));
  const log = lo > 0 && hi / lo > 50;
  const x = scale([e0, e1], plotX(FRAME));
  const y = scale([lo, hi], plotY(FRAME), log);
  const body = curves.map((pts, i) => {
    if (pts.length === 0) return '';
    const band =
      linePath(pts.map((p) => [x(p.e), y(p.q1)])) +
      linePath(pts.map((p): [number, number] => [x(p.e), y(p.q3)]).reverse()).replace(/^M/, 'L') +
      'Z';
    return (
      `<path d="${band}" fill="${color(i)}" fill-opacity="0.18" stroke="none"/>` +
      `<path d="${linePath(pts.map((p) => [x(p.e), y(p.med)]))}" fill="none" stroke="${color(i)}" stroke-width="1.6"/>`
    );
  });
  const items = levels.map((lv, i) => ({
    label: `${fmtLevel(lv)} (n=${byLevel[i]!.length})`,
    color: color(i),
  }));
  return svg(
    FRAME,
    'probe-curves',
    `${probe} by ${axis}: median and IQR across trials`,
    axes(FRAME, x, y, 'epoch', probe + (log ? ' (log)' : '')) + body.join('') + legend(FRAME, axis, items),
  );
}

/** The family's trials at each level: event epoch and whether it was observed. */
export function familyTimes(
  f: FamilyResult,
  trials: readonly TrialResult[],
): { time: number[]; observed: boolean[] }[] {
  const inStratum = trials.filter(
    (t) =>
      t.events[f.event] &&
      Object.entries(f.stratum).every(([k, v]) => levelKey(t.axes[k] ?? null) === levelKey(v)),
  );
  return f.levels.map((lv) => {
    const ts = inStratum.filter((t) => levelKey(t.axes[f.axis] ?? null) === levelKey(lv));
    return {
      time: ts.map((t) => t.events[f.event]!.epoch),
      observed: ts.map((t) => t.events[f.event]!.observed),
    };
  });
}

/** Dots per trial (hollow when censored) over a box of the observed epochs, one column per level. */
export function eventEpochs(f: FamilyResult, groups: { time: number[]; observed: boolean[] }[]): string {
  const times = groups.flatMap((g) => g.time);
  const x = scale([-0.5, f.levels.length - 0.5], plotX(FRAME));
  const [tMin, tMax] = [Math.min(...times), Math.max(...times)];
  const pad = Math.max(1, (tMax - tMin) * 0.06);
  const y = scale([tMin - pad, tMax + pad], plotY(FRAME));
  const band = (x(1) - x(0)) * 0.6;
  const parts: string[] = [];
  groups.forEach((g, i) => {
    const cx = x(i);
    const obs = g.time.filter((_, k) => g.observed[k]).sort((a, b) => a - b);
    if (obs.length > 0) {
      const [q1, med, q3] = [quantile(obs, 0.25), quantile(obs, 0.5), quantile(obs, 0.75)];
      parts.push(
        `<rect class="box" x="${(cx - band / 2).toFixed(1)}" y="${y(q3).toFixed(1)}" width="${band.toFixed(1)}" height="${Math.max(1, y(q1) - y(q3)).toFixed(1)}" fill="${color(i)}" fill-opacity="0.15" stroke="${color(i)}"/>`,
        `<line x1="${(cx - band / 2).toFixed(1)}" x2="${(cx + band / 2).toFixed(1)}" y1="${y(med).toFixed(1)}" y2="${y(med).toFixed(1)}" stroke="${color(i)}" stroke-width="2"/>`,
      );
    }
    g.time.forEach((t, k) => {
      // Deterministic jitter spreads equal epochs sideways.
      const jx = cx + (((k * 0.618034) % 1) - 0.5) * band * 0.8;
      const fill = g.observed[k] ? color(i) : '#fff';
      parts.push(
        `<circle class="dot" cx="${jx.toFixed(1)}" cy="${y(t).toFixed(1)}" r="3.2" fill="${fill}" stroke="${color(i)}"/>`,
      );
    });
    parts.push(
      `<text x="${cx.toFixed(1)}" y="${FRAME.height - FRAME.bottom + 16}" text-anchor="middle" class="tick">${esc(fmtLevel(f.levels[i]!))}</text>`,
    );
  });
  const axisBody = axes(FRAME, null, y, f.axis, `${f.event} epoch`);
  return svg(
    FRAME,
    'event-epochs',
    `${f.event} epoch by ${f.axis} (hollow: censored)`,
    axisBody + parts.join(''),
  );
}

/** Kaplan–Meier step curves of the event, one per level, with censoring ticks. */
export function kmCurves(f: FamilyResult, groups: { time: number[]; observed: boolean[] }[]): string {
  const times = groups.flatMap((g) => g.time);
  const x = scale([Math.min(0, ...times), Math.max(...times)], plotX(FRAME));
  const y = scale([0, 1], plotY(FRAME));
  const parts = groups.map((g, i) => {
    const km = kaplanMeier(g.time, g.observed);
    let d = `M${x(x.domain[0]).toFixed(1)} ${y(1).toFixed(1)}`;
    let s = 1;
    const marks: string[] = [];
    km.times.forEach((t, k) => {
      d += `H${x(t).toFixed(1)}`;
      if (km.survival[k] !== s) d += `V${y(km.survival[k]!).toFixed(1)}`;
      s = km.survival[k]!;
      if (km.atRisk[k]! - (km.atRisk[k + 1] ?? 0) > km.deaths[k]!) {
        marks.push(`<path d="M${x(t).toFixed(1)} ${(y(s) - 4).toFixed(1)}v8" stroke="${color(i)}"/>`);
      }
    });
    d += `H${x(x.domain[1]).toFixed(1)}`;
    return `<path class="km" d="${d}" fill="none" stroke="${color(i)}" stroke-width="1.8"/>${marks.join('')}`;
  });
  const items = f.levels.map((lv, i) => ({ label: fmtLevel(lv), color: color(i) }));
  return svg(
    FRAME,
    'kaplan-meier',
    `Kaplan–Meier: trials without ${f.event} by ${f.axis} (ticks: censored)`,
    axes(FRAME, x, y, 'epoch', 'fraction without event') + parts.join('') + legend(FRAME, f.axis, items),
  );
}

const PHASES = ['#f4a582', '#92c5de', '#b8e186'];

/** One row per trial: the three Dynp phases as coloured bars, PELT change points, event markers. */
export function timelines(
  trials: readonly TrialResult[],
  series: readonly TrialSeries[],
  eventNames: string[],
  max = 60,
): string | null {
  const shown = trials.filter((t) => t.segments.dynp3 !== null).slice(0, max);
  if (shown.length === 0) return null;
  const first = new Map(series.map((s) => [s.trial_id, s.firstEpoch]));
  const rowH = 14;
  const f: Frame = { ...FRAME, left: 110, height: FRAME.top + FRAME.bottom + rowH * shown.length };
  const end = Math.max(...shown.map((t) => (first.get(t.trial_id) ?? 0) + t.segments.dynp3![2]!));
  const x = scale([0, end], plotX(f));
  const parts: string[] = [];
  shown.forEach((t, r) => {
    const y0 = f.top + r * rowH;
    const e0 = first.get(t.trial_id) ?? 0;
    const [b1, b2, n] = t.segments.dynp3 as [number, number, number];
    [
      [0, b1],
      [b1, b2],
      [b2, n],
    ].forEach(([a, b], k) =>
      parts.push(
        `<rect class="phase" x="${x(e0 + a!).toFixed(1)}" y="${y0 + 2}" width="${Math.max(0.5, x(e0 + b!) - x(e0 + a!)).toFixed(1)}" height="${rowH - 4}" fill="${PHASES[k]}"/>`,
      ),
    );
    for (const bp of t.segments.pelt ?? []) {
      if (bp < n)
        parts.push(
          `<line x1="${x(e0 + bp).toFixed(1)}" x2="${x(e0 + bp).toFixed(1)}" y1="${y0 + 1}" y2="${y0 + rowH - 1}" stroke="#333" stroke-width="0.8"/>`,
        );
    }
    eventNames.forEach((name, k) => {
      const e = t.events[name];
      if (!e) return;
      const px = x(e.epoch);
      parts.push(
        `<path d="M${px.toFixed(1)} ${y0 + 2}l4 5l-4 5l-4 -5z" fill="${e.observed ? color(k + 3) : '#fff'}" stroke="${color(k + 3)}"/>`,
      );
    });
    parts.push(
      `<text x="${f.left - 6}" y="${y0 + rowH / 2}" text-anchor="end" dominant-baseline="middle" class="tick">${esc(t.trial_id)}</text>`,
    );
  });
  const items = [
    { label: 'instability', color: PHASES[0]! },
    { label: 'alignment', color: PHASES[1]! },
    { label: 'stabilisation', color: PHASES[2]! },
    ...eventNames.map((n, k) => ({ label: `event: ${n}`, color: color(k + 3) })),
  ];
  const title = `Phase timeline per trial: Dynp 3-segment phases, PELT change points (lines), events (diamonds; hollow: censored)${trials.length > shown.length ? ` — first ${shown.length} of ${trials.length} trials` : ''}`;
  const xAxis = axes(f, x, null, 'epoch', '');
  return svg(f, 'timeline', title, xAxis + parts.join('') + legend(f, 'phases', items));
}
