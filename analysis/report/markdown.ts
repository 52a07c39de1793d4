// The terminal report: per family, the tests and the per-group timing table, as Markdown.
import type { AnalysisResult } from '../analyze.js';
import type { FamilyResult } from '../families.js';
import { fmtCi, fmtLevel, fmtNum, fmtP, fmtStratum } from './format.js';

export interface MarkdownOptions {
  alpha: number;
  confidence: number;
}

function table(head: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function family(f: FamilyResult, o: MarkdownOptions): string {
  const pct = `${Math.round(o.confidence * 100)}%`;
  const out: string[] = [`### ${f.event} × ${f.axis} (${fmtStratum(f.stratum)})`, ''];
  const notes = [`levels: ${f.levels.map(fmtLevel).join(', ')}`];
  if (f.censored_left_out > 0) {
    notes.push(
      `${f.censored_left_out} censored trial(s) left out of the rank tests; log-rank is the primary test`,
    );
  }
  out.push(notes.join(' · '), '');
  out.push(
    table(
      ['test', 'statistic', 'p', 'p (BH across families)'],
      [
        [
          'Kruskal–Wallis',
          f.kruskal ? `H = ${fmtNum(f.kruskal.H)}` : '—',
          fmtP(f.kruskal?.p, o.alpha),
          fmtP(f.p_bh, o.alpha),
        ],
        ['Jonckheere–Terpstra', '', fmtP(f.jonckheere?.p, o.alpha), ''],
        ['Spearman', f.spearman ? `ρ = ${fmtNum(f.spearman.rho, 3)}` : '—', fmtP(f.spearman?.p, o.alpha), ''],
        [
          'log-rank',
          f.logrank ? `χ² = ${fmtNum(f.logrank.chi2)} (df ${f.logrank.df})` : '—',
          fmtP(f.logrank?.p, o.alpha),
          '',
        ],
      ],
    ),
    '',
  );
  if (f.pairwise && f.pairwise.length > 0) {
    out.push(
      table(
        ['a', 'b', 'U (a)', 'p', 'p (Holm)', "Cliff's δ"],
        f.pairwise.map((p) => [
          fmtLevel(p.a),
          fmtLevel(p.b),
          fmtNum(p.U),
          fmtP(p.p, o.alpha),
          fmtP(p.p_holm, o.alpha),
          fmtNum(p.cliffs_delta, 3),
        ]),
      ),
      '',
    );
  }
  out.push(
    table(
      [f.axis, 'n', 'events', 'censored', `KM median [${pct} CI]`, `median [${pct} bootstrap CI]`],
      f.groups.map((g) => [
        fmtLevel(g.level),
        String(g.n),
        String(g.events),
        String(g.censored),
        `${fmtNum(g.km_median)}${fmtCi(g.km_median_ci)}`,
        g.median === null ? '— (censored)' : `${fmtNum(g.median)}${fmtCi(g.median_ci)}`,
      ]),
    ),
    '',
  );
  return out.join('\n');
}

export function renderMarkdown(r: AnalysisResult, o: MarkdownOptions): string {
  const events = new Map<string, { observed: number; censored: number }>();
  for (const t of r.trials) {
    for (const [name, e] of Object.entries(t.events)) {
      const c = events.get(name) ?? { observed: 0, censored: 0 };
      if (e.observed) c.observed++;
      else c.censored++;
      events.set(name, c);
    }
  }
  const segmented = r.trials.filter((t) => t.segments.dynp3 !== null).length;
  const out = [
    '# Phase timing analysis',
    '',
    `${r.trials.length} trials · ${segmented} segmented (3-phase Dynp, PELT) · ${r.families.length} families · α = ${o.alpha} (* marks p < α)`,
    '',
    table(
      ['event', 'observed', 'censored'],
      [...events].map(([name, c]) => [name, String(c.observed), String(c.censored)]),
    ),
    '',
  ];
  if (r.families.length === 0)
    out.push('No family to test: no event was found, or no axis has two levels.', '');
  for (const f of r.families) out.push(family(f, o));
  return out.join('\n');
}
