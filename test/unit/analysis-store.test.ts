// `analyze SWEEP --store`: the embedded DuckDB store (and Parquet, exported or in the CSV's
// columns) read into the same rows as analyzeRows takes, with decoded axes, and clear errors.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeRows, type AnalysisRow } from '../../analysis/index.js';
import { decodeAxisValue, joinStoreRows } from '../../analysis/sources/store-rows.js';
import { TrialEvent } from '../../proto/index.js';
import { openDuckDbStore } from '../../pipeline/index.js';
import { runAnalyze, syntheticSweep } from '../support/analysis-sweep.js';

const dir = mkdtempSync(join(tmpdir(), 'phasesweep-analysis-store-'));
const storePath = join(dir, 'grid.duckdb');
const sweep = syntheticSweep('grid');
const expected = JSON.parse(JSON.stringify(analyzeRows(sweep.rows))) as unknown;

const runCli = runAnalyze;

/**
 * The synthetic sweep with a trainer's own scalars: perplexity (left out every 7th epoch),
 * user_acc (= val_acc, so its event must time like generalization), and a scalar named like
 * the probe val_acc that must never reach the analysis. The stale first attempts carry scalars
 * too, which must not leak in either.
 */
function scalarSweep(id: string) {
  const base = syntheticSweep(id);
  const scalarsOf = (
    p: { loss?: number | null | undefined; val_acc?: number | null | undefined },
    epoch: number,
  ): Record<string, number> => ({
    ...(epoch % 7 === 3 ? {} : { perplexity: Math.exp(p.loss ?? Number.NaN) }),
    user_acc: p.val_acc ?? 0,
    val_acc: -1,
  });
  const rows: AnalysisRow[] = base.rows.map((r) => {
    const s = scalarsOf(r.probes, r.epoch);
    return { ...r, probes: { ...r.probes, perplexity: s['perplexity'] ?? null, user_acc: s['user_acc']! } };
  });
  return {
    probes: base.probes.map((e) => ({ ...e, scalars: scalarsOf(e, e.epoch) })),
    trials: base.trials,
    rows,
  };
}

const SCALAR_SPEC = {
  events: [
    { name: 'low_perplexity', criteria: [{ probe: 'perplexity', op: '<=', value: 1.5 }] },
    { name: 'user_generalization', criteria: [{ probe: 'user_acc', op: '>=', value: 0.99 }] },
    { name: 'generalization', criteria: [{ probe: 'val_acc', op: '>=', value: 0.99 }] },
  ],
};
const SCALAR_SPEC_YAML = `events:
  - { name: low_perplexity, criteria: [{ probe: perplexity, op: "<=", value: 1.5 }] }
  - { name: user_generalization, criteria: [{ probe: user_acc, op: ">=", value: 0.99 }] }
  - { name: generalization, criteria: [{ probe: val_acc, op: ">=", value: 0.99 }] }
`;
const scalars = scalarSweep('scalars');
const scalarStorePath = join(dir, 'scalars.duckdb');

beforeAll(async () => {
  const store = await openDuckDbStore(storePath);
  await store.insertProbes(sweep.probes);
  for (const t of sweep.trials) await store.upsertTrial(t);
  // Another sweep in the same file must not leak in.
  const other = syntheticSweep('other');
  await store.insertProbes(other.probes.slice(0, 50));
  for (const t of other.trials) await store.upsertTrial(t);
  await store.exportParquet(join(dir, 'export'));
  await store.close();
  const withScalars = await openDuckDbStore(scalarStorePath);
  await withScalars.insertProbes(scalars.probes);
  for (const t of scalars.trials) await withScalars.upsertTrial(t);
  await withScalars.exportParquet(join(dir, 'scalars-export'));
  await withScalars.close();
  writeFileSync(join(dir, 'scalars.yaml'), SCALAR_SPEC_YAML);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('analyze from the embedded store', () => {
  it('equals analyzeRows on the same rows', async () => {
    const r = await runCli(['grid', '--store', storePath, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = JSON.parse(r.stdout) as {
      trials: { trial_id: string; axes: unknown; events: Record<string, { observed: boolean }> }[];
      families: { event: string; axis: string; kruskal: { p: number } | null }[];
    };
    expect(got).toEqual(expected);
    // Not vacuous: axes decoded to numbers, a censored trial, and a testable family.
    expect(got.trials[0]?.axes).toEqual({ noise: 0, weight_decay: 0 });
    expect(got.trials.find((t) => t.trial_id === 't-wd0-n1-s13')?.events['generalization']?.observed).toBe(
      false,
    );
    const wd = got.families.find((f) => f.event === 'generalization' && f.axis === 'weight_decay');
    expect(wd?.kruskal?.p).toBeLessThan(0.05);
  });

  it('reads an exported probe_events.parquet with the trials.parquet beside it', async () => {
    const file = join(dir, 'export', 'probe_events.parquet');
    const several = await runCli(['--input', file, '--json']);
    expect(several.code).toBe(2);
    expect(several.stderr).toContain('several sweeps (grid, other)');
    const r = await runCli(['grid', '--input', file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
    const wrong = await runCli(['nope', '--input', file]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('no sweep "nope"');
  });

  it('reads a Parquet file with the CSV contract columns', async () => {
    const file = join(dir, 'rows.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    await conn.run(
      `CREATE TABLE t (trial_id VARCHAR, seed INTEGER, epoch BIGINT, "axis.noise" DOUBLE, "axis.weight_decay" DOUBLE,
        loss DOUBLE, train_acc DOUBLE, val_acc DOUBLE, rel_drift DOUBLE, eff_rank DOUBLE, note VARCHAR)`,
    );
    const appender = await conn.createAppender('t');
    for (const row of sweep.rows) {
      appender.appendVarchar(row.trial_id);
      appender.appendInteger(row.seed);
      appender.appendBigInt(BigInt(row.epoch));
      appender.appendDouble(row.axes['noise'] as number);
      appender.appendDouble(row.axes['weight_decay'] as number);
      for (const p of ['loss', 'train_acc', 'val_acc', 'rel_drift', 'eff_rank'])
        appender.appendDouble(row.probes[p]!);
      appender.appendVarchar('x');
      appender.endRow();
    }
    appender.closeSync();
    await conn.run(`COPY t TO '${file}' (FORMAT PARQUET)`);
    conn.closeSync();
    instance.closeSync();
    const r = await runCli(['--input', file, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('ignoring column(s) that are neither axes nor probes: note');
    expect(JSON.parse(r.stdout)).toEqual(expected);
    expect((await runCli(['grid', '--input', file, '--json'])).stderr).toContain('"grid" is ignored');
  });

  it('finds events on user scalars, which never shadow a probe, from the store and its export', async () => {
    const want = JSON.parse(JSON.stringify(analyzeRows(scalars.rows, SCALAR_SPEC))) as {
      trials: { events: Record<string, { epoch: number; observed: boolean }> }[];
      families: { event: string; axis: string; kruskal: { p: number } | null }[];
    };
    // Not vacuous: the user scalar's event is found, times as the probe it copies, and is tested.
    expect(want.trials.every((t) => t.events['low_perplexity']?.observed === true)).toBe(true);
    expect(want.trials.map((t) => t.events['user_generalization'])).toEqual(
      want.trials.map((t) => t.events['generalization']),
    );
    const family = want.families.find((f) => f.event === 'user_generalization' && f.axis === 'weight_decay');
    expect(family?.kruskal?.p).toBeLessThan(0.05);
    const spec = join(dir, 'scalars.yaml');
    const fromStore = await runCli(['scalars', '--store', scalarStorePath, '--spec', spec, '--json']);
    expect(fromStore.stderr).toBe('');
    expect(JSON.parse(fromStore.stdout)).toEqual(want);
    const exported = join(dir, 'scalars-export', 'probe_events.parquet');
    const fromExport = await runCli(['--input', exported, '--spec', spec, '--json']);
    expect(fromExport.stderr).toBe('');
    expect(JSON.parse(fromExport.stdout)).toEqual(want);
  });

  it('reads other numeric columns of a CSV-shaped Parquet file as user scalars', async () => {
    const file = join(dir, 'scalar-rows.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    await conn.run(
      `CREATE TABLE t (trial_id VARCHAR, seed INTEGER, epoch BIGINT, "axis.noise" DOUBLE, "axis.weight_decay" DOUBLE,
        loss DOUBLE, val_acc DOUBLE, perplexity DOUBLE, user_acc FLOAT, host VARCHAR)`,
    );
    const appender = await conn.createAppender('t');
    for (const row of scalars.rows) {
      appender.appendVarchar(row.trial_id);
      appender.appendInteger(row.seed);
      appender.appendBigInt(BigInt(row.epoch));
      appender.appendDouble(row.axes['noise'] as number);
      appender.appendDouble(row.axes['weight_decay'] as number);
      for (const p of ['loss', 'val_acc', 'perplexity']) {
        const v = row.probes[p];
        if (v === null || v === undefined) appender.appendNull();
        else appender.appendDouble(v);
      }
      appender.appendFloat(row.probes['user_acc']!);
      appender.appendVarchar('node-1');
      appender.endRow();
    }
    appender.closeSync();
    await conn.run(`COPY t TO '${file}' (FORMAT PARQUET)`);
    conn.closeSync();
    instance.closeSync();
    const r = await runCli(['--input', file, '--spec', join(dir, 'scalars.yaml'), '--json']);
    expect(r.stderr).toContain('ignoring column(s) that are neither axes nor probes: host');
    const rows = scalars.rows.map((row) => ({
      ...row,
      probes: {
        loss: row.probes['loss']!,
        val_acc: row.probes['val_acc']!,
        perplexity: row.probes['perplexity']!,
        user_acc: Math.fround(row.probes['user_acc']!),
      },
    }));
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(analyzeRows(rows, SCALAR_SPEC))));
  });

  it('names a missing store, an unknown sweep and conflicting flags', async () => {
    const missing = await runCli(['grid', '--store', join(dir, 'nope.duckdb')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.duckdb does not exist/);
    const unknown = await runCli(['gird', '--store', storePath]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no sweep "gird"');
    expect(unknown.stderr).toContain('it holds: grid, other');
    const noStore = await runCli(['never-run-sweep-xyz']);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toContain(join('.phasesweep', 'never-run-sweep-xyz.duckdb'));
    expect((await runCli(['--store', storePath])).stderr).toContain('name a SWEEP');
    expect((await runCli(['grid', '--store', storePath, '--input', 'x.csv'])).stderr).toContain(
      'choose one of',
    );
    expect((await runCli(['grid', '--clickhouse', 'http://127.0.0.1:1'])).stderr).toContain('--database');
    expect((await runCli(['grid', '--database', 'db'])).stderr).toContain('--clickhouse');
  });

  it('exits 3 when ClickHouse cannot be reached', async () => {
    const r = await runCli(['grid', '--clickhouse', 'http://127.0.0.1:1', '--database', 'db']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('unreachable');
  });
});

describe('store rows', () => {
  it('decodes JSON axis texts, and keeps other text as a string', () => {
    expect(decodeAxisValue('0.1')).toBe(0.1);
    expect(decodeAxisValue('"adamw"')).toBe('adamw');
    expect(decodeAxisValue('true')).toBe(true);
    expect(decodeAxisValue('null')).toBeNull();
    expect(decodeAxisValue('adamw')).toBe('adamw');
    expect(decodeAxisValue('[1,2]')).toBe('[1,2]');
  });

  it('merges user scalars into the probes by name, null where not reported, never over a probe', () => {
    const trial = { trial_id: 'a', status: 'completed', axes: {} };
    const { rows } = joinStoreRows(
      [
        { trial_id: 'a', seed: 1, epoch: 0, probes: { loss: 1 }, scalars: { perplexity: 2.7, loss: 50 } },
        { trial_id: 'a', seed: 1, epoch: 1, probes: { loss: 0.5 }, scalars: { attn_entropy: 0.3 } },
        { trial_id: 'a', seed: 1, epoch: 2, probes: { loss: 0.25 } },
      ],
      [trial],
      'store',
    );
    expect(rows.map((r) => r.probes)).toEqual([
      { loss: 1, attn_entropy: null, perplexity: 2.7 },
      { loss: 0.5, attn_entropy: 0.3, perplexity: null },
      { loss: 0.25, attn_entropy: null, perplexity: null },
    ]);
  });

  it('drops never-computed probes and orphan rows, and warns about unfinished trials', () => {
    const probe = (trial_id: string, epoch: number) => ({
      trial_id,
      seed: 1,
      epoch,
      probes: { loss: 1, cluster_purity: null, grad_drift_ratio: Number.POSITIVE_INFINITY },
    });
    const trial = TrialEvent.fromPartial({ trial_id: 'a', status: 'running', axes: { wd: '1' } });
    const { rows, warnings } = joinStoreRows(
      [probe('a', 0), probe('b', 0)],
      [trial, { trial_id: 'c', status: 'leased', axes: {} }],
      'store',
    );
    expect(rows).toEqual([
      { trial_id: 'a', seed: 1, epoch: 0, axes: { wd: 1 }, probes: { loss: 1, grad_drift_ratio: null } },
    ]);
    expect(warnings.join('\n')).toMatch(/1 trial\(s\) have probe events but no trial record.*: b/);
    expect(warnings.join('\n')).toMatch(/have not finished \(a running\)/);
    expect(warnings.join('\n')).toMatch(/1 trial\(s\) have no probe events yet/);
  });
});
