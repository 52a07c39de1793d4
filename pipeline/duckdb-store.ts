// The embedded event store for single-machine sweeps: the ClickHouse tables' logical schema in
// one DuckDB file, with upserts that keep the highest attempt per (sweep, trial, epoch).
import { DOUBLE, DuckDBInstance, LIST, listValue, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeEvent, TrialEvent } from '../proto/index.js';
import { PhasesweepError } from '../spec/errors.js';
import { PROBE_NAMES } from '../spec/probes.js';
import { TRIAL_COLUMNS } from './clickhouse-sql.js';
import { probeValue, scalarColumns, scalarRecord, trialRow, zipRecord } from './rows.js';

export interface ProbeRowOut {
  trial_id: string;
  seed: number;
  epoch: number;
  attempt: number;
  /** Every probe by name, null where not computed. */
  probes: Record<string, number | null>;
  /** The trainer's own scalars this epoch (names never a probe's); absent names were not reported. */
  scalars: Record<string, number>;
}

export interface TrialOut {
  trial_id: string;
  seed: number;
  attempt: number;
  status: string;
  axes: Record<string, string>;
  config_json: string;
  engine: string;
  backend: string;
  epochs: number;
  reason: string;
  sweep_name: string;
}

export interface EventStore {
  insertProbes(events: ProbeEvent[]): Promise<void>;
  upsertTrial(e: TrialEvent): Promise<void>;
  /** Latest attempt, one row per (trial, epoch), ordered by trial then epoch. */
  probeRows(sweepId: string): Promise<ProbeRowOut[]>;
  trials(sweepId: string): Promise<TrialOut[]>;
  close(): Promise<void>;
}

export interface DuckDbEventStore extends EventStore {
  /** Writes probe_events.parquet and trials.parquet into dir (all sweeps, or one). */
  exportParquet(dir: string, sweepId?: string): Promise<{ probeRows: number; trials: number }>;
}

const probeCols = PROBE_NAMES.map((p) => `${p} DOUBLE`).join(', ');
const BASE_COLS = [
  'sweep_id',
  'trial_id',
  'epoch',
  'attempt',
  'seed',
  'time_ms',
  'engine',
  'backend',
  'worker_id',
];
/** User scalars: parallel lists sorted by name, as in ClickHouse (pipeline/rows.ts scalarColumns). */
const SCALAR_COLS = ['scalar_names', 'scalar_values'];
const SCALAR_DEFS = 'scalar_names VARCHAR[], scalar_values DOUBLE[]';
const PROBE_INSERT_COLS = [...BASE_COLS, ...PROBE_NAMES, ...SCALAR_COLS];

function stagingType(col: string): string {
  if (col === 'time_ms') return 'UBIGINT';
  if (col === 'epoch' || col === 'attempt' || col === 'seed') return 'UINTEGER';
  return 'VARCHAR';
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS probe_events (
    sweep_id VARCHAR NOT NULL, trial_id VARCHAR NOT NULL, epoch UINTEGER NOT NULL, attempt UINTEGER NOT NULL,
    seed UINTEGER, time TIMESTAMP, time_ms UBIGINT, engine VARCHAR, backend VARCHAR, worker_id VARCHAR,
    ${probeCols}, ${SCALAR_DEFS},
    PRIMARY KEY (sweep_id, trial_id, epoch))`,
  // A store written before user scalars existed gains their columns (empty for its rows).
  `ALTER TABLE probe_events ADD COLUMN IF NOT EXISTS scalar_names VARCHAR[] DEFAULT []`,
  `ALTER TABLE probe_events ADD COLUMN IF NOT EXISTS scalar_values DOUBLE[] DEFAULT []`,
  `CREATE TABLE IF NOT EXISTS trials (
    sweep_id VARCHAR NOT NULL, trial_id VARCHAR NOT NULL, sweep_name VARCHAR, attempt UINTEGER, status VARCHAR,
    version UBIGINT, time TIMESTAMP, time_ms UBIGINT, seed UINTEGER, config_json VARCHAR,
    axes_names VARCHAR[], axes_values VARCHAR[], engine VARCHAR, backend VARCHAR, simd UTINYINT,
    versions_names VARCHAR[], versions_values VARCHAR[], reason VARCHAR, worker_id VARCHAR, epochs UINTEGER,
    PRIMARY KEY (sweep_id, trial_id))`,
  // Rows land here through the appender, then move to probe_events in one upsert statement.
  `CREATE TEMP TABLE probe_staging (seq UBIGINT, ${BASE_COLS.map((c) => `${c} ${stagingType(c)}`).join(', ')}, ${probeCols}, ${SCALAR_DEFS})`,
];

const updateProbe = [
  'attempt',
  'seed',
  'time',
  'time_ms',
  'engine',
  'backend',
  'worker_id',
  ...PROBE_NAMES,
  ...SCALAR_COLS,
]
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');

// DuckDB refuses to update one row twice in a statement, so each key keeps its latest attempt
// (and, for equal attempts, the last event handed in) before the upsert.
const MERGE_PROBES = `INSERT INTO probe_events (${PROBE_INSERT_COLS.join(', ')}, time)
  SELECT ${PROBE_INSERT_COLS.join(', ')}, epoch_ms(time_ms::BIGINT) FROM probe_staging
  QUALIFY row_number() OVER (PARTITION BY sweep_id, trial_id, epoch ORDER BY attempt DESC, seq DESC) = 1
  ON CONFLICT (sweep_id, trial_id, epoch) DO UPDATE SET ${updateProbe}
  WHERE excluded.attempt >= probe_events.attempt`;

// The ClickHouse columns but `time`, which is derived from time_ms on insert.
const TRIAL_COLS = TRIAL_COLUMNS.filter((c) => c !== 'time');

const UPSERT_TRIAL = `INSERT INTO trials (${TRIAL_COLS.join(', ')}, time)
  VALUES (${TRIAL_COLS.map((c) => `$${c}`).join(', ')}, epoch_ms($time_ms::BIGINT))
  ON CONFLICT (sweep_id, trial_id) DO UPDATE SET
  ${TRIAL_COLS.filter((c) => c !== 'sweep_id' && c !== 'trial_id')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}, time = excluded.time
  WHERE excluded.version >= trials.version`;

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(str) : [];
}

const NAMES_TYPE = LIST(VARCHAR);
const VALUES_TYPE = LIST(DOUBLE);
const NO_NAMES = listValue([]);

class DuckDbStore implements DuckDbEventStore {
  /** One statement at a time: the staging table is shared by every insert. */
  private chain: Promise<unknown> = Promise.resolve();
  private seq = 0n;
  private closed = false;

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed)
      return Promise.reject(new PhasesweepError('FAILED_PRECONDITION', 'event store is closed'));
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  insertProbes(events: ProbeEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.serial(async () => {
      const appender = await this.conn.createAppender('probe_staging', 'main', 'temp');
      try {
        for (const e of events) {
          appender.appendUBigInt(this.seq++);
          appender.appendVarchar(e.sweep_id);
          appender.appendVarchar(e.trial_id);
          appender.appendUInteger(e.epoch);
          appender.appendUInteger(e.attempt);
          appender.appendUInteger(e.seed);
          appender.appendUBigInt(BigInt(e.time_ms));
          appender.appendVarchar(e.engine);
          appender.appendVarchar(e.backend);
          appender.appendVarchar(e.worker_id);
          for (const p of PROBE_NAMES) {
            const v = probeValue(e[p]);
            if (v === null) appender.appendNull();
            else appender.appendDouble(v);
          }
          const scalars = scalarColumns(Object.entries(e.scalars));
          if (scalars.names.length === 0) {
            appender.appendList(NO_NAMES, NAMES_TYPE);
            appender.appendList(NO_NAMES, VALUES_TYPE);
          } else {
            appender.appendList(listValue([...scalars.names]), NAMES_TYPE);
            appender.appendList(listValue([...scalars.values]), VALUES_TYPE);
          }
          appender.endRow();
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      try {
        await this.conn.run('BEGIN TRANSACTION');
        await this.conn.run(MERGE_PROBES);
        await this.conn.run('COMMIT');
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        await this.conn.run('DELETE FROM probe_staging');
      }
    });
  }

  upsertTrial(e: TrialEvent): Promise<void> {
    const r = trialRow(e);
    return this.serial(async () => {
      const list = LIST(VARCHAR);
      await this.conn.run(
        UPSERT_TRIAL,
        {
          sweep_id: r.sweep_id,
          trial_id: r.trial_id,
          sweep_name: r.sweep_name,
          attempt: r.attempt,
          status: r.status,
          seed: r.seed,
          config_json: r.config_json,
          engine: r.engine,
          backend: r.backend,
          simd: r.simd,
          reason: r.reason,
          worker_id: r.worker_id,
          epochs: r.epochs,
          version: BigInt(r.version),
          time_ms: BigInt(r.time_ms),
          axes_names: listValue(r.axes_names),
          axes_values: listValue(r.axes_values),
          versions_names: listValue(r.versions_names),
          versions_values: listValue(r.versions_values),
        },
        { axes_names: list, axes_values: list, versions_names: list, versions_values: list },
      );
    });
  }

  probeRows(sweepId: string): Promise<ProbeRowOut[]> {
    return this.serial(async () => {
      const reader = await this.conn.runAndReadAll(
        `SELECT trial_id, seed, epoch, attempt, ${PROBE_NAMES.join(', ')}, ${SCALAR_COLS.join(', ')}
         FROM probe_events WHERE sweep_id = $1 ORDER BY trial_id, epoch`,
        [sweepId],
      );
      return reader.getRowObjectsJS().map((row) => {
        const probes: Record<string, number | null> = {};
        for (const p of PROBE_NAMES) {
          const v = row[p];
          probes[p] = typeof v === 'number' ? v : null;
        }
        return {
          trial_id: str(row['trial_id']),
          seed: Number(row['seed']),
          epoch: Number(row['epoch']),
          attempt: Number(row['attempt']),
          probes,
          scalars: scalarRecord(row['scalar_names'], row['scalar_values']),
        };
      });
    });
  }

  trials(sweepId: string): Promise<TrialOut[]> {
    return this.serial(async () => {
      const reader = await this.conn.runAndReadAll(
        `SELECT trial_id, seed, attempt, status, axes_names, axes_values, config_json, engine, backend, epochs,
                reason, sweep_name
         FROM trials WHERE sweep_id = $1 ORDER BY trial_id`,
        [sweepId],
      );
      return reader.getRowObjectsJS().map((row) => ({
        trial_id: str(row['trial_id']),
        seed: Number(row['seed']),
        attempt: Number(row['attempt']),
        status: str(row['status']),
        axes: zipRecord(stringList(row['axes_names']), stringList(row['axes_values'])),
        config_json: str(row['config_json']),
        engine: str(row['engine']),
        backend: str(row['backend']),
        epochs: Number(row['epochs']),
        reason: str(row['reason']),
        sweep_name: str(row['sweep_name']),
      }));
    });
  }

  exportParquet(dir: string, sweepId?: string): Promise<{ probeRows: number; trials: number }> {
    return this.serial(async () => {
      await mkdir(dir, { recursive: true });
      const where = sweepId === undefined ? '' : ` WHERE sweep_id = ${sqlString(sweepId)}`;
      const copy = async (table: string, order: string): Promise<number> => {
        const target = sqlString(join(dir, `${table}.parquet`));
        const result = await this.conn.run(
          `COPY (SELECT * FROM ${table}${where} ORDER BY ${order}) TO ${target} (FORMAT PARQUET)`,
        );
        return Number(result.rowsChanged);
      };
      return {
        probeRows: await copy('probe_events', 'sweep_id, trial_id, epoch'),
        trials: await copy('trials', 'sweep_id, trial_id'),
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chain;
    this.closed = true;
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

export async function openDuckDbStore(path: string): Promise<DuckDbEventStore> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path);
  } catch (err) {
    throw new PhasesweepError('INVALID_ARGUMENT', `cannot open event store ${path}`, { cause: err });
  }
  const conn = await instance.connect();
  for (const statement of SCHEMA) await conn.run(statement);
  return new DuckDbStore(instance, conn);
}
