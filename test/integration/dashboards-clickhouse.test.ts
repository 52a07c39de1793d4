// Every ClickHouse panel and variable of the committed dashboards, expanded with the plugin's
// macro rules and run against the real ClickHouse on seeded rows: columns and values checked.
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLICKHOUSE, expandPanelSql, JSON_DIR } from '../../dashboards/index.js';
import { migrateClickHouse, trialVersion } from '../../pipeline/index.js';
import { PROBE_NAMES } from '../../spec/probes.js';

const T0 = 1_800_000_000;
const RANGE = { fromS: T0 - 3600, toS: T0 + 100, intervalS: 10 };
const BASE_VARS = {
  sweep: 'sw1',
  axis: 'weight_decay',
  probe: 'loss',
  threshold: '0.75',
  direction: 'below',
};

interface Trial {
  id: string;
  level: string;
  seed: number;
  worker: string;
  status: string;
  attempt: number;
  reason?: string;
  /** Loss at epoch e is a + b·e for the stored epochs 0..n-1. */
  loss: [a: number, b: number];
  stored: number;
}
const TRIALS: Trial[] = [
  {
    id: 't0a',
    level: '0',
    seed: 1,
    worker: 'w1',
    status: 'completed',
    attempt: 2,
    loss: [1, -0.1],
    stored: 5,
  },
  {
    id: 't0b',
    level: '0',
    seed: 2,
    worker: 'w1',
    status: 'completed',
    attempt: 1,
    loss: [1, -0.2],
    stored: 5,
  },
  {
    id: 't5a',
    level: '0.5',
    seed: 1,
    worker: 'w2',
    status: 'leased',
    attempt: 1,
    loss: [2, -0.1],
    stored: 3,
  },
  {
    id: 't5b',
    ...{ level: '0.5', seed: 2, worker: 'w2', status: 'failed', attempt: 3, reason: 'boom' },
    loss: [2, -0.3],
    stored: 2,
  },
];

function trialRow(sweep: string, t: Trial, status = t.status, attempt = t.attempt) {
  return {
    sweep_id: sweep,
    trial_id: t.id,
    sweep_name: sweep,
    attempt,
    status,
    version: trialVersion(attempt, status),
    time: T0 + 60,
    time_ms: (T0 + 60) * 1000,
    seed: t.seed,
    config_json: `{"probes":{"every":1},"train":{"early_stop_epoch":null,"epochs":5,"lr":0.01}}`,
    axes_names: ['noise', 'weight_decay'],
    axes_values: ['0.1', t.level],
    engine: 'wasm',
    backend: 'wasm',
    simd: 1,
    versions_names: [],
    versions_values: [],
    reason: t.reason ?? '',
    worker_id: t.worker,
    epochs: t.stored,
  };
}

function probeRow(sweep: string, t: Trial, index: number, epoch: number, attempt: number, loss: number) {
  const row: Record<string, unknown> = {
    sweep_id: sweep,
    trial_id: t.id,
    attempt,
    epoch,
    seed: t.seed,
    time: T0 + epoch * 10 + index,
    time_ms: (T0 + epoch * 10 + index) * 1000,
    engine: 'wasm',
    backend: 'wasm',
    worker_id: t.worker,
  };
  for (const p of PROBE_NAMES) row[p] = null;
  row['loss'] = loss;
  row['val_acc'] = 0.5;
  // User scalars: perplexity = 2·loss, but t0b leaves it out at epoch 2 and t5b reports none.
  const scalars: [string, number][] =
    t.id === 't5b'
      ? []
      : t.id === 't0b' && epoch === 2
        ? [['zeta', 1]]
        : [
            ['perplexity', 2 * loss],
            ['zeta', 1],
          ];
  if (sweep !== 'sw1') scalars.push(['other_only', 1]);
  row['scalar_names'] = scalars.map(([n]) => n);
  row['scalar_values'] = scalars.map(([, v]) => v);
  return row;
}

interface Target {
  datasource?: { uid?: string };
  rawSql?: string;
}
interface Panel {
  title: string;
  type: string;
  targets?: Target[];
}
interface DashboardJson {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; query?: unknown; datasource?: { uid?: string } }[] };
}

function dashboards(): DashboardJson[] {
  return readdirSync(JSON_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(JSON_DIR, f), 'utf8')) as DashboardJson);
}

/** Every ClickHouse panel query of the committed JSON, keyed `uid/panel title`. */
function panelQueries(): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of dashboards())
    for (const p of d.panels)
      for (const t of p.targets ?? [])
        if (t.datasource?.uid === CLICKHOUSE.uid && t.rawSql !== undefined)
          out.set(`${d.uid}/${p.title}`, t.rawSql);
  return out;
}

interface Result {
  columns: string[];
  rows: Record<string, unknown>[];
}

describe('dashboard SQL on ClickHouse 18.16', () => {
  const url = inject('clickhouseUrl');
  const db = `dash_${randomBytes(4).toString('hex')}`;
  let client: ClickHouseClient;
  const queries = panelQueries();
  const checked = new Set<string>();

  async function run(key: string, vars: Record<string, string> = {}): Promise<Result> {
    const raw = queries.get(key);
    if (raw === undefined)
      throw new Error(`no ClickHouse panel ${key}; have ${[...queries.keys()].join(', ')}`);
    checked.add(key);
    return query(expandPanelSql(raw, { ...RANGE, variables: { ...BASE_VARS, ...vars } }));
  }

  async function query(text: string): Promise<Result> {
    const rs = await client.query({ query: text, format: 'JSON' });
    const body = await rs.json<Record<string, unknown>>();
    return { columns: body.meta?.map((m) => m.name) ?? [], rows: body.data };
  }

  beforeAll(async () => {
    await migrateClickHouse(url, db);
    client = createClient({ url, database: db, log: { level: ClickHouseLogLevel.OFF } });
    const trials = [
      ...TRIALS.map((t) => trialRow('sw1', t)),
      // Earlier attempts, superseded by version.
      trialRow('sw1', TRIALS[0]!, 'retrying', 1),
      trialRow('sw1', TRIALS[3]!, 'running', 2),
      trialRow('other', TRIALS[0]!, 'completed', 1),
      trialRow("it's", TRIALS[1]!, 'completed', 1),
    ];
    await client.insert({ table: 'trials', values: trials, format: 'JSONEachRow' });
    const probes: Record<string, unknown>[] = [];
    TRIALS.forEach((t, i) => {
      for (let e = 0; e < t.stored; e++)
        probes.push(probeRow('sw1', t, i, e, t.attempt, t.loss[0] + t.loss[1] * e));
    });
    // A superseded attempt of t0a at epoch 0 (FINAL keeps the higher attempt) and another sweep.
    probes.push(probeRow('sw1', TRIALS[0]!, 0, 0, 1, 99));
    probes.push(probeRow('other', TRIALS[0]!, 0, 0, 1, 42));
    await client.insert({ table: 'probe_events', values: probes, format: 'JSONEachRow' });
  });

  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client?.close();
  });

  it('variables list the sweeps (quotes escaped) and the sweep’s axes', async () => {
    const vars = dashboards().flatMap((d) =>
      d.templating.list.filter((v) => v.datasource?.uid === CLICKHOUSE.uid),
    );
    const sweepSql = vars.find((v) => v.name === 'sweep')!.query as string;
    const axisSql = vars.find((v) => v.name === 'axis')!.query as string;
    const sweeps = await query(expandPanelSql(sweepSql, { ...RANGE, variables: {} }));
    expect(sweeps.rows.map((r) => r['sweep_id'])).toEqual(["it's", 'other', 'sw1']);
    const axes = await query(expandPanelSql(axisSql, { ...RANGE, variables: { sweep: 'sw1' } }));
    expect(axes.rows.map((r) => r['axis'])).toEqual(['noise', 'weight_decay']);
    const scalarSql = vars.find((v) => v.name === 'scalar')!.query as string;
    const scalars = await query(expandPanelSql(scalarSql, { ...RANGE, variables: { sweep: 'sw1' } }));
    expect(scalars.rows.map((r) => r['scalar'])).toEqual(['perplexity', 'zeta']);
    const quoted = await run('phasesweep-overview/Trials by status', { sweep: "it's" });
    expect(quoted.rows).toEqual([{ status: 'completed', trials: '1' }]);
  });

  it('sweep overview: status counts, progress and ETA, events/s, levels, failures', async () => {
    const status = await run('phasesweep-overview/Trials by status');
    expect(status.columns).toEqual(['status', 'trials']);
    expect(status.rows).toEqual([
      { status: 'completed', trials: '2' },
      { status: 'failed', trials: '1' },
      { status: 'leased', trials: '1' },
    ]);

    const progress = await run('phasesweep-overview/Progress and ETA');
    expect(progress.columns).toEqual(['epochs_done', 'epochs_planned', 'progress', 'epochs_per_s', 'eta_s']);
    const p = progress.rows[0]!;
    // 15 stored epochs of 20 planned; 16 deliveries (one superseded attempt) in the last 300 s.
    expect([Number(p['epochs_done']), Number(p['epochs_planned']), p['progress']]).toEqual([15, 20, 0.75]);
    expect(p['epochs_per_s']).toBeCloseTo(16 / 300, 9);
    expect(Number(p['eta_s'])).toBe(Math.floor(5 / (16 / 300)));

    const rate = await run('phasesweep-overview/Probe events per second');
    expect(rate.columns).toEqual(['t', 'events_per_s']);
    // Epoch e of trial i lands at T0 + 10e + i: the 10 s buckets hold one epoch each.
    expect(rate.rows.map((r) => r['events_per_s'])).toEqual([0.5, 0.4, 0.3, 0.2, 0.2]);

    const levels = await run('phasesweep-overview/Trials per ${axis} level');
    expect(levels.columns).toEqual(['level', 'trials', 'completed', 'diverged', 'running', 'failing']);
    expect(levels.rows).toEqual([
      { level: '0', trials: '2', completed: '2', diverged: '0', running: '0', failing: '0' },
      { level: '0.5', trials: '2', completed: '0', diverged: '0', running: '1', failing: '1' },
    ]);

    const failures = await run('phasesweep-overview/Failures and retries');
    expect(failures.columns).toEqual(['trial_id', 'status', 'attempt', 'worker_id', 'reason', 'time']);
    expect(failures.rows.map((r) => [r['trial_id'], r['status'], r['attempt'], r['reason']])).toEqual([
      ['t0a', 'completed', 2, ''],
      ['t5b', 'failed', 3, 'boom'],
    ]);
  });

  it('probe curves: median and IQR across seeds per level, latest attempt only', async () => {
    const curves = await run('phasesweep-probe-curves/${probe} by epoch, per ${axis} level (median, IQR)');
    expect(curves.columns).toEqual(['epoch', 'level', 'p25', 'median', 'p75', 'trials']);
    const expected: [number, string, number, number, number, string][] = [];
    for (let e = 0; e < 5; e++) expected.push([e, '0', 1 - 0.175 * e, 1 - 0.15 * e, 1 - 0.125 * e, '2']);
    for (let e = 0; e < 2; e++) expected.push([e, '0.5', 2 - 0.25 * e, 2 - 0.2 * e, 2 - 0.15 * e, '2']);
    expected.push([2, '0.5', 1.8, 1.8, 1.8, '1']);
    expect(curves.rows).toHaveLength(expected.length);
    curves.rows.forEach((r, i) => {
      const [epoch, level, p25, median, p75, n] = expected[i]!;
      expect([r['epoch'], r['level'], r['trials']]).toEqual([epoch, level, n]);
      expect(r['p25']).toBeCloseTo(p25, 9);
      expect(r['median']).toBeCloseTo(median, 9);
      expect(r['p75']).toBeCloseTo(p75, 9);
    });
    // Another probe through the same variable: val_acc is 0.5 everywhere.
    const acc = await run('phasesweep-probe-curves/${probe} by epoch, per ${axis} level (median, IQR)', {
      probe: 'val_acc',
    });
    expect(new Set(acc.rows.map((r) => r['median']))).toEqual(new Set([0.5]));

    const last = await run('phasesweep-probe-curves/Last value of ${probe} per ${axis} level');
    expect(last.columns).toEqual(['level', 'trials', 'median_last', 'min_last', 'max_last', 'max_epoch']);
    expect(last.rows[0]).toMatchObject({ level: '0', trials: '2', max_epoch: 4 });
    expect(last.rows[0]!['median_last']).toBeCloseTo(0.4, 9);
    expect(last.rows[1]).toMatchObject({ level: '0.5', trials: '2', max_epoch: 2 });
    expect(last.rows[1]!['median_last']).toBeCloseTo(1.75, 9);
  });

  it('probe curves: a user scalar by name, only from the rows that report it', async () => {
    const vars = { scalar: 'perplexity' };
    const curves = await run(
      'phasesweep-probe-curves/${scalar} by epoch, per ${axis} level (median, IQR)',
      vars,
    );
    expect(curves.columns).toEqual(['epoch', 'level', 'p25', 'median', 'p75', 'trials']);
    // 2·loss of t0a and t0b (t0b without it at epoch 2), of t5a alone (t5b reports none).
    const expected: [number, string, number, number, number, string][] = [];
    for (let e = 0; e < 5; e++) {
      if (e === 2) expected.push([e, '0', 1.6, 1.6, 1.6, '1']);
      else expected.push([e, '0', 2 - 0.35 * e, 2 - 0.3 * e, 2 - 0.25 * e, '2']);
    }
    for (let e = 0; e < 3; e++) expected.push([e, '0.5', 4 - 0.2 * e, 4 - 0.2 * e, 4 - 0.2 * e, '1']);
    expect(curves.rows).toHaveLength(expected.length);
    curves.rows.forEach((r, i) => {
      const [epoch, level, p25, median, p75, n] = expected[i]!;
      expect([r['epoch'], r['level'], r['trials']]).toEqual([epoch, level, n]);
      expect(r['p25']).toBeCloseTo(p25, 9);
      expect(r['median']).toBeCloseTo(median, 9);
      expect(r['p75']).toBeCloseTo(p75, 9);
    });
    // Another scalar through the same variable; a name no row carries gives nothing (not zeros).
    const zeta = await run('phasesweep-probe-curves/${scalar} by epoch, per ${axis} level (median, IQR)', {
      scalar: 'zeta',
    });
    expect(new Set(zeta.rows.map((r) => r['median']))).toEqual(new Set([1]));
    const none = await run('phasesweep-probe-curves/${scalar} by epoch, per ${axis} level (median, IQR)', {
      scalar: "o'ther_only",
    });
    expect(none.rows).toEqual([]);

    const last = await run('phasesweep-probe-curves/Last value of ${scalar} per ${axis} level', vars);
    expect(last.columns).toEqual(['level', 'trials', 'median_last', 'min_last', 'max_last', 'max_epoch']);
    expect(last.rows[0]).toMatchObject({ level: '0', trials: '2', max_epoch: 4 });
    expect([last.rows[0]!['median_last'], last.rows[0]!['min_last'], last.rows[0]!['max_last']]).toEqual([
      expect.closeTo(0.8, 9),
      expect.closeTo(0.4, 9),
      expect.closeTo(1.2, 9),
    ]);
    expect(last.rows[1]).toMatchObject({ level: '0.5', trials: '1', max_epoch: 2 });
    expect(last.rows[1]!['median_last']).toBeCloseTo(3.6, 9);
  });

  it('phase timing: threshold events per level and per trial, censored share', async () => {
    const key = 'phasesweep-phase-timing/Event epoch per ${axis} level (${probe} ${direction} ${threshold})';
    const levels = await run(key);
    expect(levels.columns).toEqual([
      'level',
      'trials',
      'events',
      'censored_share',
      'p25_epoch',
      'median_epoch',
      'p75_epoch',
    ]);
    // Loss ≤ 0.75 first at epoch 3 (t0a) and 2 (t0b); the 0.5 level never gets there.
    expect(levels.rows[0]).toMatchObject({ level: '0', trials: '2', events: '2', censored_share: 0 });
    expect([
      levels.rows[0]!['p25_epoch'],
      levels.rows[0]!['median_epoch'],
      levels.rows[0]!['p75_epoch'],
    ]).toEqual([2.25, 2.5, 2.75]);
    expect(levels.rows[1]).toMatchObject({ level: '0.5', trials: '2', events: '0', censored_share: 1 });
    expect(levels.rows[1]!['median_epoch'] ?? Number.NaN).toBeNaN();

    const above = await run(key, { direction: 'above', threshold: '1.9' });
    expect(above.rows.map((r) => [r['level'], r['events'], r['censored_share'], r['median_epoch']])).toEqual([
      ['0', '0', 1, null],
      ['0.5', '2', 0, 0],
    ]);

    const bars = await run('phasesweep-phase-timing/Share censored per ${axis} level');
    expect(bars.rows.map((r) => r['censored_share'])).toEqual([0, 1]);

    const perTrial = await run('phasesweep-phase-timing/Event epoch per trial');
    expect(perTrial.columns).toEqual(['trial_id', 'level', 'seed', 'event_epoch', 'last_epoch', 'outcome']);
    expect(
      perTrial.rows.map((r) => [r['trial_id'], r['event_epoch'], r['last_epoch'], r['outcome']]),
    ).toEqual([
      ['t0a', 3, 4, 'event'],
      ['t0b', 2, 4, 'event'],
      ['t5a', null, 2, 'censored'],
      ['t5b', null, 1, 'censored'],
    ]);
  });

  it('workers and pipeline: leases per worker, last events, epochs/s, retries', async () => {
    const leases = await run('phasesweep-workers-pipeline/Leases per worker');
    expect(leases.columns).toEqual([
      'worker_id',
      'active_leases',
      'finished',
      'failing',
      'attempts',
      'last_trial_event',
    ]);
    expect(
      leases.rows.map((r) => [
        r['worker_id'],
        r['active_leases'],
        r['finished'],
        r['failing'],
        r['attempts'],
      ]),
    ).toEqual([
      ['w1', '0', '2', '0', '3'],
      ['w2', '1', '0', '1', '4'],
    ]);

    const last = await run('phasesweep-workers-pipeline/Last probe event per worker');
    expect(last.columns).toEqual(['worker_id', 'events', 'last_event', 'seconds_since']);
    // w1: t0a (index 0) and t0b (index 1), epochs 0-4 plus the superseded row; last at T0+41.
    expect(last.rows.map((r) => [r['worker_id'], r['events'], Number(r['seconds_since'])])).toEqual([
      ['w1', '11', 100 - 41],
      ['w2', '5', 100 - 22],
    ]);

    const perWorker = await run('phasesweep-workers-pipeline/Epochs per second by worker');
    expect(perWorker.columns).toEqual(['t', 'worker_id', 'epochs_per_s']);
    expect(perWorker.rows.filter((r) => r['worker_id'] === 'w2').map((r) => r['epochs_per_s'])).toEqual([
      0.2, 0.2, 0.1,
    ]);

    const retries = await run('phasesweep-workers-pipeline/Retries');
    expect(retries.rows).toEqual([{ retries: '3', retried_trials: '2', failed_trials: '1' }]);
  });

  it('every ClickHouse panel of the committed dashboards was run above', () => {
    expect([...queries.keys()].filter((k) => !checked.has(k))).toEqual([]);
  });
});
