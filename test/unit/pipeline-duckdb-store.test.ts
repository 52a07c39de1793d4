// The embedded store on a temp file: upserts keep the highest attempt, trials keep the latest
// state, the file survives a reopen, and Parquet export writes both tables.
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeEvent, TrialEvent } from '../../proto/index.js';
import { openDuckDbStore } from '../../pipeline/index.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import exportCommand from '../../cli/commands/export.js';
import { PassThrough } from 'node:stream';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ps-duckdb-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function probe(trial: string, epoch: number, attempt: number, loss: number): ProbeEvent {
  return ProbeEvent.fromPartial({
    sweep_id: 's1',
    trial_id: trial,
    epoch,
    attempt,
    seed: 7,
    time_ms: 1_700_000_000_123,
    loss,
    grad_drift_ratio: Number.POSITIVE_INFINITY,
  });
}

function trial(status: string, attempt: number): TrialEvent {
  return TrialEvent.fromPartial({
    sweep_id: 's1',
    trial_id: 't1',
    attempt,
    status,
    seed: 7,
    config_json: '{"a":1}',
    axes: { weight_decay: '0.01' },
    metadata: { engine: 'tfjs', backend: 'cpu' },
    epochs: attempt * 10,
    reason: status,
  });
}

describe('DuckDB event store', () => {
  it('keeps the highest attempt per (trial, epoch), in one batch and across batches', async () => {
    const path = join(tmp(), 'events.duckdb');
    const store = await openDuckDbStore(path);
    await store.insertProbes([
      probe('t1', 0, 1, 1.0),
      probe('t1', 0, 2, 2.0),
      probe('t1', 1, 1, 3.0),
      probe('t2', 0, 1, 4.0),
    ]);
    // An older attempt arriving late must not overwrite; the same attempt again replaces.
    await store.insertProbes([probe('t1', 0, 1, 9.0), probe('t1', 1, 1, 3.5), probe('t1', 1, 3, 5.0)]);
    await store.insertProbes([probe('t2', 0, 1, 4.5)]);
    const rows = await store.probeRows('s1');
    expect(rows.map((r) => [r.trial_id, r.epoch, r.attempt, r.probes['loss']])).toEqual([
      ['t1', 0, 2, 2.0],
      ['t1', 1, 3, 5.0],
      ['t2', 0, 1, 4.5],
    ]);
    expect(rows[0]?.probes['grad_drift_ratio']).toBeNull();
    expect(rows[0]?.probes['cluster_purity']).toBeNull();
    expect(rows[0]?.seed).toBe(7);
    expect(await store.probeRows('other')).toEqual([]);
    await store.close();
    await store.close();
  });

  it('upserts trials by version and survives a reopen; exports Parquet', async () => {
    const dir = tmp();
    const path = join(dir, 'events.duckdb');
    let store = await openDuckDbStore(path);
    await store.upsertTrial(trial('running', 2));
    await store.upsertTrial(trial('completed', 1));
    await store.upsertTrial(trial('failed', 2));
    await store.upsertTrial(trial('running', 2));
    await store.insertProbes([probe('t1', 0, 1, 1.0)]);
    await store.close();

    store = await openDuckDbStore(path);
    expect(await store.trials('s1')).toEqual([
      expect.objectContaining({
        trial_id: 't1',
        status: 'failed',
        attempt: 2,
        epochs: 20,
        axes: { weight_decay: '0.01' },
        config_json: '{"a":1}',
        engine: 'tfjs',
        backend: 'cpu',
        reason: 'failed',
      }),
    ]);
    const out = join(dir, 'parquet');
    expect(await store.exportParquet(out, 's1')).toEqual({ probeRows: 1, trials: 1 });
    await store.close();

    const check = await (await DuckDBInstance.create()).connect();
    const reader = await check.runAndReadAll(
      `SELECT trial_id, loss, time FROM read_parquet('${join(out, 'probe_events.parquet')}')`,
    );
    expect(reader.getRowObjectsJS()).toEqual([
      { trial_id: 't1', loss: 1.0, time: new Date(1_700_000_000_123) },
    ]);
    check.closeSync();
  });

  it('stores user scalars beside the probes, latest attempt, and exports them', async () => {
    const dir = tmp();
    const store = await openDuckDbStore(join(dir, 'events.duckdb'));
    const scalars = (e: ProbeEvent, s: Record<string, number>) => ({ ...e, scalars: s });
    await store.insertProbes([
      scalars(probe('t1', 0, 1, 1), { perplexity: 9, stale: 1 }),
      // The same batch's higher attempt wins with its own scalars, none of the first's.
      scalars(probe('t1', 0, 2, 2), { perplexity: 7.5, attn_entropy: 0.25, loss: 99, broken: Number.NaN }),
      probe('t1', 1, 1, 3),
    ]);
    await store.insertProbes([scalars(probe('t1', 1, 2, 4), { perplexity: 6 })]);
    const rows = await store.probeRows('s1');
    expect(rows.map((r) => [r.epoch, r.attempt, r.probes['loss'], r.scalars])).toEqual([
      [0, 2, 2, { attn_entropy: 0.25, perplexity: 7.5 }],
      [1, 2, 4, { perplexity: 6 }],
    ]);
    const out = join(dir, 'parquet');
    await store.exportParquet(out);
    await store.close();
    const check = await (await DuckDBInstance.create()).connect();
    const reader = await check.runAndReadAll(
      `SELECT epoch, scalar_names, scalar_values FROM read_parquet('${join(out, 'probe_events.parquet')}') ORDER BY epoch`,
    );
    expect(reader.getRowObjectsJS()).toEqual([
      { epoch: 0, scalar_names: ['attn_entropy', 'perplexity'], scalar_values: [0.25, 7.5] },
      { epoch: 1, scalar_names: ['perplexity'], scalar_values: [6] },
    ]);
    check.closeSync();
  });

  it('adds the scalar columns to a store written before they existed', async () => {
    const path = join(tmp(), 'old.duckdb');
    const old = await (await DuckDBInstance.create(path)).connect();
    // probe_events as the first version of the store created it.
    await old.run(`CREATE TABLE probe_events (
      sweep_id VARCHAR NOT NULL, trial_id VARCHAR NOT NULL, epoch UINTEGER NOT NULL, attempt UINTEGER NOT NULL,
      seed UINTEGER, time TIMESTAMP, time_ms UBIGINT, engine VARCHAR, backend VARCHAR, worker_id VARCHAR,
      ${PROBE_NAMES.map((p) => `${p} DOUBLE`).join(', ')},
      PRIMARY KEY (sweep_id, trial_id, epoch))`);
    await old.run(
      `INSERT INTO probe_events (sweep_id, trial_id, epoch, attempt, seed, loss) VALUES ('s1', 't1', 0, 1, 7, 0.5)`,
    );
    old.closeSync();
    for (let open = 0; open < 2; open++) {
      const store = await openDuckDbStore(path);
      await store.insertProbes([{ ...probe('t1', 1 + open, 1, 0.25), scalars: { perplexity: 3 + open } }]);
      await store.close();
    }
    const store = await openDuckDbStore(path);
    expect((await store.probeRows('s1')).map((r) => [r.epoch, r.probes['loss'], r.scalars])).toEqual([
      [0, 0.5, {}],
      [1, 0.25, { perplexity: 3 }],
      [2, 0.25, { perplexity: 4 }],
    ]);
    await store.close();
  });

  it('`phasesweep export` writes both Parquet files and refuses a missing store', async () => {
    const dir = tmp();
    const path = join(dir, 'events.duckdb');
    const store = await openDuckDbStore(path);
    await store.insertProbes([probe('t1', 0, 1, 1.0), probe('t2', 0, 1, 2.0)]);
    await store.upsertTrial(trial('running', 1));
    await store.close();
    const stdout = new PassThrough();
    const chunks: string[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
    const io = { stdout, stderr: new PassThrough(), signal: new AbortController().signal };
    const out = join(dir, 'out');
    await exportCommand.run(['--store', path, '--parquet', out, '--sweep', 's1'], io);
    expect(JSON.parse(chunks.join(''))).toEqual({ dir: out, probe_rows: 2, trials: 1 });
    const check = await (await DuckDBInstance.create()).connect();
    const reader = await check.runAndReadAll(
      `SELECT count(*)::INTEGER AS n FROM read_parquet('${join(out, 'trials.parquet')}')`,
    );
    expect(reader.getRowObjectsJS()).toEqual([{ n: 1 }]);
    check.closeSync();
    await expect(
      exportCommand.run(['--store', join(dir, 'missing.duckdb'), '--parquet', out], io),
    ).rejects.toThrow(/does not exist/);
  });
});
