// `analyze SWEEP --clickhouse URL --database DB` against a real server: the latest attempt of
// every (trial, epoch) and the latest trial state, read through FINAL, give exactly what
// analyzeRows gives on the same rows; a missing database or sweep is named, not an empty report.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analyzeRows } from '../../analysis/index.js';
import { migrateClickHouse } from '../../pipeline/index.js';
import { probeRow, trialRow } from '../../pipeline/rows.js';
import { TrialEvent } from '../../proto/index.js';
import { runAnalyze, syntheticSweep } from '../support/analysis-sweep.js';

const clickhouseUrl = inject('clickhouseUrl');
const database = `ps_analysis_${randomBytes(4).toString('hex')}`;
const sweep = syntheticSweep('grid');

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

  it('names an unknown sweep and an unknown database', async () => {
    const sweepMissing = await runAnalyze(['gird', '--clickhouse', clickhouseUrl, '--database', database]);
    expect(sweepMissing.code).toBe(2);
    expect(sweepMissing.stderr).toContain('no sweep "gird"');
    expect(sweepMissing.stderr).toContain('it holds: grid');
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
