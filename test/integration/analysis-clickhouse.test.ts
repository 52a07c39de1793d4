// `analyze SWEEP --clickhouse URL --database DB` against a real server: the latest attempt of
// every (trial, epoch) and the latest trial state, read through FINAL, give exactly what
// analyzeRows gives on the same rows; a missing database or sweep is named, not an empty report.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analyzeRows, type AnalysisRow } from '../../analysis/index.js';
import { migrateClickHouse } from '../../pipeline/index.js';
import { probeRow, trialRow } from '../../pipeline/rows.js';
import { TrialEvent } from '../../proto/index.js';
import { runAnalyze, syntheticSweep } from '../support/analysis-sweep.js';

const clickhouseUrl = inject('clickhouseUrl');
const database = `ps_analysis_${randomBytes(4).toString('hex')}`;
const sweep = syntheticSweep('grid');

// The same sweep with a trainer's own scalar, perplexity, not reported every 5th epoch; and a
// scalar named like the probe val_acc, which must not shadow it.
const scalarSweep = syntheticSweep('scalars');
const perplexity = (loss: number | null | undefined, epoch: number) =>
  epoch % 5 === 4 ? undefined : Math.exp(loss ?? Number.NaN);
const scalarProbes = scalarSweep.probes.map((e) => {
  const p = perplexity(e.loss, e.epoch);
  return { ...e, scalars: { ...(p === undefined ? {} : { perplexity: p }), val_acc: 0 } };
});
const scalarRows: AnalysisRow[] = scalarSweep.rows.map((r) => ({
  ...r,
  probes: { ...r.probes, perplexity: perplexity(r.probes['loss'], r.epoch) ?? null },
}));
const SCALAR_SPEC = {
  window: 3,
  events: [
    { name: 'low_perplexity', criteria: [{ probe: 'perplexity', op: '<=', value: 1.2 }] },
    { name: 'generalization', criteria: [{ probe: 'val_acc', op: '>=', value: 0.99 }] },
  ],
};

describe('analyze from ClickHouse', () => {
  let ch: ClickHouseClient;

  beforeAll(async () => {
    ch = createClient({ url: clickhouseUrl });
    await migrateClickHouse(clickhouseUrl, database);
    // Separate inserts leave separate parts, so FINAL (not a background merge) must collapse them.
    const half = Math.floor(sweep.probes.length / 2);
    for (const part of [sweep.probes.slice(half), sweep.probes.slice(0, half)]) {
      await ch.insert({
        table: `${database}.probe_events`,
        values: part.map(probeRow),
        format: 'JSONEachRow',
      });
    }
    const stale = sweep.trials.map((t) =>
      TrialEvent.fromPartial({ ...t, status: 'running', axes: { weight_decay: '"stale"' } }),
    );
    for (const batch of [sweep.trials, stale]) {
      await ch.insert({ table: `${database}.trials`, values: batch.map(trialRow), format: 'JSONEachRow' });
    }
    await ch.insert({
      table: `${database}.probe_events`,
      values: scalarProbes.map(probeRow),
      format: 'JSONEachRow',
    });
    await ch.insert({
      table: `${database}.trials`,
      values: scalarSweep.trials.map(trialRow),
      format: 'JSONEachRow',
    });
  });
  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` });
    await ch.close();
  });

  it('equals analyzeRows on the same rows', async () => {
    const r = await runAnalyze(['grid', '--clickhouse', clickhouseUrl, '--database', database, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(analyzeRows(sweep.rows))));
  });

  it('finds an event on a user scalar, and the scalar named like a probe shadows nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-analysis-ch-'));
    try {
      const spec = join(dir, 'spec.json');
      writeFileSync(spec, JSON.stringify(SCALAR_SPEC));
      const r = await runAnalyze([
        'scalars',
        '--clickhouse',
        clickhouseUrl,
        '--database',
        database,
        '--spec',
        spec,
        '--json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const got = JSON.parse(r.stdout) as { trials: { events: Record<string, { observed: boolean }> }[] };
      expect(got).toEqual(JSON.parse(JSON.stringify(analyzeRows(scalarRows, SCALAR_SPEC))));
      expect(got.trials.every((t) => t.events['low_perplexity']?.observed === true)).toBe(true);
      expect(got.trials.some((t) => t.events['generalization']?.observed === true)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names an unknown sweep and an unknown database', async () => {
    const sweepMissing = await runAnalyze(['gird', '--clickhouse', clickhouseUrl, '--database', database]);
    expect(sweepMissing.code).toBe(2);
    expect(sweepMissing.stderr).toContain('no sweep "gird"');
    expect(sweepMissing.stderr).toContain('it holds: grid, scalars');
    const dbMissing = await runAnalyze([
      'grid',
      '--clickhouse',
      clickhouseUrl,
      '--database',
      `${database}_nope`,
    ]);
    expect(dbMissing.code).toBe(2);
    expect(dbMissing.stderr).toMatch(/no such database|no probe_events\/trials tables/);
  });
});
