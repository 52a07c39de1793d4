// The CSV contract, the analysis spec, the analyze command's modes and errors, and the reports.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeRows, buildTrials, parseAnalysisSpec, parseCsv } from '../../analysis/index.js';
import { renderMarkdown } from '../../analysis/report/markdown.js';
import { renderHtml } from '../../analysis/report/html.js';
import { runAnalyze } from '../support/analysis-sweep.js';

const fixtureCsv = new URL('../../../shared/fixtures/analyze_events.csv', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'phasesweep-analysis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('CSV contract', () => {
  it('parses axes by type, empty and non-finite probes as missing, quoted fields', () => {
    const { rows, ignoredColumns } = parseCsv(
      'trial_id,seed,epoch,axis.wd,axis.opt,axis.flag,rel_drift,grad_drift_ratio,note\r\n' +
        '"a,1",3,0,0.01,adam,true,0.5,inf,"x ""y"""\r\n' +
        '"a,1",3,1,0.01,adam,true,,nan,z\r\n',
      'in.csv',
    );
    expect(ignoredColumns).toEqual(['note']);
    expect(rows[0]).toEqual({
      trial_id: 'a,1',
      seed: 3,
      epoch: 0,
      axes: { wd: 0.01, opt: 'adam', flag: true },
      probes: { rel_drift: 0.5, grad_drift_ratio: null },
    });
    expect(rows[1]!.probes).toEqual({ rel_drift: null, grad_drift_ratio: null });
  });

  it('names file, line, column and value in errors', () => {
    const bad = 'trial_id,seed,epoch,rel_drift\nt,0,0,0.1\nt,0,1,abc\n';
    expect(() => parseCsv(bad, 'in.csv')).toThrow(
      'in.csv:3: column "rel_drift": invalid value "abc" (expected a number)',
    );
    expect(() => parseCsv('trial_id,seed,epoch\nt,0,-1\n', 'in.csv')).toThrow(
      'in.csv:2: column "epoch": invalid value "-1"',
    );
    expect(() => parseCsv('trial_id,seed,epoch\nt,x,1\n', 'in.csv')).toThrow(
      'in.csv:2: column "seed": invalid value "x"',
    );
    expect(() => parseCsv('trial_id,epoch\n', 'in.csv')).toThrow('in.csv:1: missing column "seed"');
    expect(() => parseCsv('trial_id,seed,epoch\nt,0\n', 'in.csv')).toThrow(
      'in.csv:2: expected 3 fields, found 2',
    );
    expect(() => parseCsv('', 'in.csv')).toThrow('in.csv: empty file');
  });

  it('rejects a trial whose rows disagree, or a repeated epoch', () => {
    const { rows } = parseCsv('trial_id,seed,epoch,axis.wd\nt,0,0,1\nt,1,1,1\n', 'in.csv');
    expect(() => buildTrials(rows)).toThrow('trial t, epoch 1: seed or axes differ');
    const dup = parseCsv('trial_id,seed,epoch\nt,0,0\nt,0,0\n', 'in.csv').rows;
    expect(() => buildTrials(dup)).toThrow('trial t: epoch 0 appears twice');
  });

  it('reads any other numeric column as a user scalar; a column with text in it is ignored', () => {
    const { rows, ignoredColumns } = parseCsv(
      'trial_id,seed,epoch,loss,perplexity,host,attn_entropy,__proto__\n' +
        't,0,0,2,7.4,a,,1\n' +
        't,0,1,1.5,4.5,b,inf,2\n' +
        't,0,2,1,2.7,3,0.5,3\n',
      'in.csv',
    );
    expect(ignoredColumns).toEqual(['host', '__proto__']);
    expect(rows.map((r) => r.probes)).toEqual([
      { loss: 2, perplexity: 7.4, attn_entropy: null },
      { loss: 1.5, perplexity: 4.5, attn_entropy: null },
      { loss: 1, perplexity: 2.7, attn_entropy: 0.5 },
    ]);
    // A user scalar can carry an event, like any probe.
    const result = analyzeRows(rows, {
      events: [{ name: 'low_ppl', window: 1, criteria: [{ probe: 'perplexity', op: '<', value: 5 }] }],
    });
    expect(result.trials[0]?.events).toEqual({ low_ppl: { epoch: 1, observed: true } });
  });

  it('fills a missing epoch with missing values', () => {
    const { rows } = parseCsv('trial_id,seed,epoch,rel_drift\nt,0,2,1\nt,0,4,3\n', 'in.csv');
    const [t] = buildTrials(rows);
    expect(t!.firstEpoch).toBe(2);
    expect([...t!.probes.get('rel_drift')!]).toEqual([1, NaN, 3]);
  });
});

describe('analysis spec', () => {
  it('reports every problem with its path', () => {
    const text =
      'window: 0\nalpha: 2\nevents:\n  - name: Bad\n    criteria: [{probe: x, op: "=="}]\nunknown: 1\n';
    let message = '';
    try {
      parseAnalysisSpec(text, 'a.yaml');
    } catch (e) {
      message = (e as Error).message;
    }
    for (const path of [
      'a.yaml: window:',
      'a.yaml: alpha:',
      'a.yaml: events.0.name:',
      'a.yaml: events.0.criteria.0',
      'a.yaml: (root):',
    ]) {
      expect(message).toContain(path);
    }
  });

  it('sets thresholds, window and fallbacks', () => {
    const spec = parseAnalysisSpec(
      'window: 3\nalpha: 0.01\nevents:\n  - name: align\n    criteria:\n      - {probe: cluster_purity, op: ">=", value: 0.8}\n      - {kind: steepest_decline, probe: eff_rank}\n',
      'a.yaml',
    );
    expect(spec.alpha).toBe(0.01);
    expect(spec.events).toEqual([
      {
        name: 'align',
        window: 3,
        criteria: [
          { kind: 'threshold', probe: 'cluster_purity', op: '>=', value: 0.8 },
          { kind: 'steepest_decline', probe: 'eff_rank', smooth: 5 },
        ],
      },
    ]);
  });
});

describe('analyze command', () => {
  it('prints Markdown by default with the family and group tables', async () => {
    const r = await runAnalyze(['--input', fixtureCsv]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('### stabilization × weight_decay (all trials)');
    expect(r.stdout).toContain('| Kruskal–Wallis | H = 9.951 | 0.00691 * | 0.0138 * |');
    expect(r.stdout).toContain('| 0 | 4 | 3 | 1 | 62 [59, —] | — (censored) |');
    expect(r.stdout).toContain(
      '1 censored trial(s) left out of the rank tests; log-rank is the primary test',
    );
  });

  it('takes a spec file and writes a self-contained HTML report', async () => {
    const spec = file(
      'spec.yaml',
      'events:\n  - name: stable\n    criteria: [{probe: rel_drift, op: "<=", fraction_of_max: 0.05}]\n',
    );
    const html = join(dir, 'r.html');
    const r = await runAnalyze(['--input', fixtureCsv, '--spec', spec, '--html', html]);
    expect(r.code).toBe(0);
    const text = readFileSync(html, 'utf8');
    expect(text).toContain('stable × weight_decay');
    expect(text).not.toMatch(/<script|<link|\ssrc=|\shref=|url\(/i);
    for (const kind of ['probe-curves', 'event-epochs', 'kaplan-meier', 'timeline'])
      expect(text).toContain(`data-plot="${kind}"`);
  });

  it('usage errors exit 2 and name the problem', async () => {
    expect((await runAnalyze([])).code).toBe(2);
    expect((await runAnalyze(['--input', fixtureCsv, '--json', '--markdown'])).stderr).toContain(
      'choose one of',
    );
    const sweep = await runAnalyze(['my-sweep']);
    expect(sweep.code).toBe(2);
    expect(sweep.stderr).toContain('my-sweep.duckdb does not exist');
    const missing = await runAnalyze(['--input', join(dir, 'nope.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.csv: cannot read');
    const bad = await runAnalyze(['--input', file('bad.csv', 'trial_id,seed,epoch,val_acc\nt,0,0,high\n')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.csv:2: column "val_acc": invalid value "high"/);
  });

  it('warns about ignored columns on stderr', async () => {
    const p = file('extra.csv', 'trial_id,seed,epoch,rel_drift,host\nt,0,0,1,node-3\n');
    const r = await runAnalyze(['--input', p, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('ignoring column(s) that are neither axes nor probes: host');
    expect(JSON.parse(r.stdout)).toEqual({
      trials: [
        {
          trial_id: 't',
          seed: 0,
          axes: {},
          events: { stabilization: { epoch: 0, observed: false } },
          segments: { dynp3: null, pelt: null },
        },
      ],
      families: [],
    });
  });
});

describe('reports on degenerate input', () => {
  it('render with no families and no segmentable trial', () => {
    const r = analyzeRows([{ trial_id: 't', seed: 0, epoch: 0, axes: {}, probes: { val_acc: 1 } }]);
    const md = renderMarkdown(r, { alpha: 0.05, confidence: 0.95 });
    expect(md).toContain('No family to test');
    const html = renderHtml(
      r,
      buildTrials([{ trial_id: 't', seed: 0, epoch: 0, axes: {}, probes: { val_acc: 1 } }]),
      {
        alpha: 0.05,
        confidence: 0.95,
      },
    );
    expect(html).toContain('No trial could be segmented');
  });
});
