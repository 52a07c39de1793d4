// The HTML report: one self-contained file (inline CSS and SVG, no scripts, no external assets)
// with the family tables and the four kinds of plot.
import type { AnalysisResult } from '../analyze.js';
import type { FamilyResult } from '../families.js';
import { compareLevels, levelKey, type AxisValue, type TrialSeries } from '../trials.js';
import { fmtCi, fmtLevel, fmtNum, fmtP, fmtStratum } from './format.js';
import { eventEpochs, familyTimes, kmCurves, probeCurves, timelines } from './plots.js';
import { esc } from './svg.js';

export interface HtmlOptions {
  alpha: number;
  confidence: number;
  /** Probes to draw curves of; default: loss, rel_drift, val_acc, eff_rank, cluster_purity where present. */
  probes?: string[];
  /** Most trials shown in the phase timeline. */
  maxTimelineTrials?: number;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.sig{font-weight:600;color:#b00}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555;max-width:560px}
svg .tick{font-size:10px;fill:#444}svg .label{font-size:11px;fill:#222}.note{color:#555}`;

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function p(v: number | null | undefined, alpha: number): string {
  const s = esc(fmtP(v));
  return v !== null && v !== undefined && v < alpha ? `<span class="sig">${s}</span>` : s;
}

function summaryTable(fs: FamilyResult[], alpha: number): string {
  return table(
    [
      'event',
      'axis',
      'stratum',
      'levels',
      'KW H',
      'KW p',
      'p (BH)',
      'JT p',
      'Spearman ρ',
      'ρ p',
      'log-rank χ² (df)',
      'log-rank p',
      'censored left out',
    ],
    fs.map((f) => [
      esc(f.event),
      esc(f.axis),
      esc(fmtStratum(f.stratum)),
      esc(f.levels.map(fmtLevel).join(', ')),
      fmtNum(f.kruskal?.H),
      p(f.kruskal?.p, alpha),
      p(f.p_bh, alpha),
      p(f.jonckheere?.p, alpha),
      fmtNum(f.spearman?.rho, 3),
      p(f.spearman?.p, alpha),
      f.logrank ? `${fmtNum(f.logrank.chi2)} (${f.logrank.df})` : '—',
      p(f.logrank?.p, alpha),
      String(f.censored_left_out),
    ]),
  );
}

function familySection(f: FamilyResult, r: AnalysisResult, o: HtmlOptions, index: number): string {
  const pct = `${Math.round(o.confidence * 100)}%`;
  const groups = familyTimes(f, r.trials);
  const parts = [`<h3 id="family-${index}">${esc(`${f.event} × ${f.axis} (${fmtStratum(f.stratum)})`)}</h3>`];
  if (f.censored_left_out > 0) {
    parts.push(
      `<p class="note">${f.censored_left_out} censored trial(s) left out of the rank tests; the log-rank test is primary.</p>`,
    );
  }
  if (f.pairwise && f.pairwise.length > 0) {
    parts.push(
      table(
        ['a', 'b', 'U (a)', 'p', 'p (Holm)', 'Cliff’s δ'],
        f.pairwise.map((q) => [
          esc(fmtLevel(q.a)),
          esc(fmtLevel(q.b)),
          fmtNum(q.U),
          p(q.p, o.alpha),
          p(q.p_holm, o.alpha),
          fmtNum(q.cliffs_delta, 3),
        ]),
      ),
    );
  }
  parts.push(
    table(
      [esc(f.axis), 'n', 'events', 'censored', `KM median [${pct} CI]`, `median [${pct} bootstrap CI]`],
      f.groups.map((g) => [
        esc(fmtLevel(g.level)),
        String(g.n),
        String(g.events),
        String(g.censored),
        esc(`${fmtNum(g.km_median)}${fmtCi(g.km_median_ci)}`),
        g.median === null ? '— (censored)' : esc(`${fmtNum(g.median)}${fmtCi(g.median_ci)}`),
      ]),
    ),
  );
  parts.push(`<div class="plots">${eventEpochs(f, groups)}${kmCurves(f, groups)}</div>`);
  return parts.join('\n');
}

export function renderHtml(r: AnalysisResult, series: readonly TrialSeries[], o: HtmlOptions): string {
  const eventNames = [...new Set(r.trials.flatMap((t) => Object.keys(t.events)))];
  const axes = [...new Set(r.families.map((f) => f.axis))];
  const present = new Set(series.flatMap((s) => [...s.probes.keys()]));
  const probes = (o.probes ?? ['loss', 'rel_drift', 'val_acc', 'eff_rank', 'cluster_purity']).filter((pr) =>
    present.has(pr),
  );
  const curves: string[] = [];
  for (const axis of axes) {
    const levels: AxisValue[] = [];
    const seen = new Set<string>();
    for (const s of series) {
      const v = s.axes[axis] ?? null;
      if (seen.has(levelKey(v))) continue;
      seen.add(levelKey(v));
      levels.push(v);
    }
    levels.sort(compareLevels);
    for (const probe of probes) {
      const plot = probeCurves(series, axis, probe, levels);
      if (plot) curves.push(plot);
    }
  }
  const timeline = timelines(r.trials, series, eventNames, o.maxTimelineTrials ?? 60);
  const body = [
    `<h1>Phase timing analysis</h1>`,
    `<p>${r.trials.length} trials · ${r.families.length} families · events: ${esc(eventNames.join(', ') || 'none')} · α = ${o.alpha} (bold red: p &lt; α)</p>`,
    `<h2>Families</h2>`,
    r.families.length
      ? summaryTable(r.families, o.alpha)
      : '<p>No family to test: no event was found, or no axis has two levels.</p>',
    `<h2>Probe curves</h2>`,
    curves.length ? `<div class="plots">${curves.join('')}</div>` : '<p>No probe series to draw.</p>',
    `<h2>Event timing by family</h2>`,
    ...r.families.map((f, i) => familySection(f, r, o, i)),
    `<h2>Phase timelines</h2>`,
    timeline ?? '<p>No trial could be segmented (rel_drift missing or too short).</p>',
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>phasesweep analysis</title><style>${CSS}</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}
