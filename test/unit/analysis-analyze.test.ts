// The whole `analyze` contract: analyze_events.csv → analyze_expected.json, every value to
// 1e-9 relative, through analyzeRows and through the real CLI module.
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { analyzeRows, parseCsv, type AnalysisRow } from '../../analysis/index.js';
import analyze from '../../cli/commands/analyze.js';

const fixtures = new URL('../../../shared/fixtures/', import.meta.url);
const csvPath = new URL('analyze_events.csv', fixtures).pathname;
const expected = JSON.parse(readFileSync(new URL('analyze_expected.json', fixtures), 'utf8')) as unknown;

/** Keys this implementation adds to each family beyond SCIENCE.md's list. */
const EXTRA_FAMILY_KEYS = new Set(['censored_left_out', 'groups']);

/** Deep comparison: numbers to 1e-9 relative, every expected key present, no unexpected key. */
function match(actual: unknown, want: unknown, path: string): void {
  if (typeof want === 'number') {
    expect(typeof actual, path).toBe('number');
    const a = actual as number;
    const tol = want === 0 ? 1e-300 : 1e-9 * Math.abs(want);
    expect(Math.abs(a - want), `${path}: ${a} vs ${want}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(want)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(want.length);
    want.forEach((w, i) => match((actual as unknown[])[i], w, `${path}[${i}]`));
  } else if (want !== null && typeof want === 'object') {
    expect(actual !== null && typeof actual === 'object', path).toBe(true);
    const a = actual as Record<string, unknown>;
    const isFamily = /^\.families\[\d+\]$/.test(path);
    for (const k of Object.keys(a)) {
      if (!(k in want) && !(isFamily && EXTRA_FAMILY_KEYS.has(k)))
        throw new Error(`${path}: unexpected key ${k}`);
    }
    for (const [k, w] of Object.entries(want)) {
      expect(k in a, `${path}.${k} missing`).toBe(true);
      match(a[k], w, `${path}.${k}`);
    }
  } else {
    expect(actual, path).toEqual(want);
  }
}

function noNaN(v: unknown): void {
  expect(JSON.stringify(v)).not.toMatch(/NaN|Infinity/);
}

describe('analyze fixture', () => {
  it('analyzeRows reproduces analyze_expected.json', () => {
    const { rows } = parseCsv(readFileSync(csvPath, 'utf8'), csvPath);
    const result = analyzeRows(rows);
    match(JSON.parse(JSON.stringify(result)), expected, '');
  });

  it('the CLI module prints the same JSON', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    const code = await analyze.run(['--input', csvPath, '--json'], {
      stdout,
      stderr,
      signal: new AbortController().signal,
    });
    expect(code ?? 0).toBe(0);
    const out = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    match(out, expected, '');
  });
});

/** Synthetic rows: one trial per (level, seed) with a given stabilisation epoch or none. */
function rowsFor(
  spec: { level: number | string; seed: number; tau: number | null; epochs?: number }[],
): AnalysisRow[] {
  const rows: AnalysisRow[] = [];
  for (const s of spec) {
    const epochs = s.epochs ?? 40;
    for (let e = 0; e < epochs; e++) {
      const drift = s.tau !== null && e >= s.tau ? 0.01 : 1;
      rows.push({
        trial_id: `${s.level}-${s.seed}`,
        seed: s.seed,
        epoch: e,
        axes: { wd: s.level },
        probes: { rel_drift: drift },
      });
    }
  }
  return rows;
}

describe('families: null rules and censoring', () => {
  it('all censored: rank tests and log-rank are null, KM medians null, nothing is NaN', () => {
    const r = analyzeRows(
      rowsFor(
        [0, 1, 2, 3].flatMap((seed) => [
          { level: 0, seed, tau: null },
          { level: 1, seed, tau: null },
        ]),
      ),
    );
    const f = r.families[0]!;
    expect(f.event).toBe('stabilization');
    expect(f.kruskal).toBeNull();
    expect(f.jonckheere).toBeNull();
    expect(f.spearman).toBeNull();
    expect(f.pairwise).toBeNull();
    expect(f.logrank).toBeNull();
    expect(f.p_bh).toBeNull();
    expect(f.censored_left_out).toBe(8);
    expect(f.kaplan_meier).toEqual([
      { level: 0, median: null },
      { level: 1, median: null },
    ]);
    expect(r.trials[0]!.events['stabilization']).toEqual({ epoch: 35, observed: false });
    noNaN(r);
  });

  it('a level with fewer than 2 observed trials leaves the rank tests; one such level left → null', () => {
    const r = analyzeRows(
      rowsFor([
        { level: 0, seed: 0, tau: 5 },
        { level: 0, seed: 1, tau: 6 },
        { level: 0, seed: 2, tau: 7 },
        { level: 1, seed: 0, tau: 20 },
        { level: 1, seed: 1, tau: null },
        { level: 1, seed: 2, tau: null },
      ]),
    );
    const f = r.families[0]!;
    expect(f.levels).toEqual([0, 1]);
    expect(f.kruskal).toBeNull();
    expect(f.pairwise).toBeNull();
    expect(f.logrank).not.toBeNull();
    expect(f.censored_left_out).toBe(2);
    expect(f.groups.map((g) => [g.n, g.events, g.censored])).toEqual([
      [3, 3, 0],
      [3, 1, 2],
    ]);
    expect(f.groups[0]!.median).toBe(6);
    expect(f.groups[0]!.median_ci).not.toBeNull();
    expect(f.groups[1]!.median_ci).toBeNull();
  });

  it('a nominal axis gets Kruskal–Wallis and pairwise tests but no trend tests', () => {
    const r = analyzeRows(
      rowsFor(
        [0, 1, 2].flatMap((seed) => [
          { level: 'adam', seed, tau: 5 + seed },
          { level: 'sgd', seed, tau: 15 + seed },
        ]),
      ),
    );
    const f = r.families[0]!;
    expect(f.levels).toEqual(['adam', 'sgd']);
    expect(f.kruskal).not.toBeNull();
    expect(f.jonckheere).toBeNull();
    expect(f.spearman).toBeNull();
    // n ≤ 8 and no ties: exact Mann–Whitney, 2/C(6,3).
    expect(f.pairwise![0]!.p).toBeCloseTo(0.1, 12);
    expect(f.pairwise![0]!.cliffs_delta).toBe(-1);
  });

  it('an axis with one level is not a family; strata split by the other axes', () => {
    const rows = rowsFor(
      [0, 1].flatMap((seed) => [
        { level: 0, seed, tau: 5 },
        { level: 1, seed, tau: 9 },
      ]),
    ).flatMap((r) => [
      { ...r, trial_id: `${r.trial_id}-a`, axes: { ...r.axes, noise: 0.1, fixed: 'x' } },
      { ...r, trial_id: `${r.trial_id}-b`, axes: { ...r.axes, noise: 0.2, fixed: 'x' } },
    ]);
    const r = analyzeRows(rows);
    expect(r.families.map((f) => [f.axis, f.stratum])).toEqual([
      ['wd', { noise: 0.1, fixed: 'x' }],
      ['wd', { noise: 0.2, fixed: 'x' }],
      ['noise', { wd: 0, fixed: 'x' }],
      ['noise', { wd: 1, fixed: 'x' }],
    ]);
    // Identical times at both levels: Kruskal–Wallis is undefined on a constant sample.
    expect(r.families[2]!.kruskal).toBeNull();
  });

  it('events whose probes are missing are skipped; segments are null without rel_drift', () => {
    const rows = rowsFor([{ level: 0, seed: 0, tau: 3 }]).map((r) => ({ ...r, probes: { val_acc: 1 } }));
    const r = analyzeRows(rows);
    expect(Object.keys(r.trials[0]!.events)).toEqual(['generalization']);
    expect(r.trials[0]!.segments).toEqual({ dynp3: null, pelt: null });
    expect(r.families).toEqual([]);
  });

  it('the spec chooses events, thresholds, window and axes', () => {
    const rows = rowsFor(
      [0, 1, 2].flatMap((seed) => [
        { level: 0, seed, tau: 5 },
        { level: 1, seed, tau: 9 },
      ]),
    );
    const r = analyzeRows(rows, {
      events: [{ name: 'calm', window: 3, criteria: [{ probe: 'rel_drift', op: '<', value: 0.5 }] }],
      families: { axes: ['wd'] },
    });
    expect(r.trials[0]!.events).toEqual({ calm: { epoch: 5, observed: true } });
    expect(r.families.map((f) => f.event)).toEqual(['calm']);
    expect(() => analyzeRows(rows, { families: { axes: ['nope'] } })).toThrow(/no axis named nope/);
    expect(() => analyzeRows(rows, { window: 0, events: [{ name: 'x', criteria: [] }] })).toThrow(
      /window[\s\S]*events\.0\.criteria/,
    );
  });
});
