// Analysis rows from DuckDB: the embedded event store `phasesweep run` writes, and Parquet files
// (either the CSV's columns, or the probe_events/trials pair `phasesweep export` writes).
import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDuckDbStore, scalarRecord } from '../../pipeline/index.js';
import { PhasesweepError } from '../../spec/errors.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import type { AnalysisRow, AxisValue } from '../trials.js';
import { joinStoreRows, type StoredProbeRow, type StoredTrial, type StoreRows } from './store-rows.js';

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function causeText(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

function unknownSweep(sweep: string, where: string, known: readonly string[]): PhasesweepError {
  const list = known.length === 0 ? 'it holds no sweeps' : `it holds: ${known.join(', ')}`;
  return new PhasesweepError('NOT_FOUND', `no sweep "${sweep}" in ${where}; ${list}`);
}

async function withMemoryDb<T>(
  fn: (query: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>,
) {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return await fn(async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS());
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Sweep ids in a store file, read-only: only for naming the choices in an error. */
async function storeSweeps(path: string): Promise<string[]> {
  try {
    return await withMemoryDb(async (query) => {
      await query(`ATTACH ${sqlString(path)} AS store (READ_ONLY)`);
      const rows = await query(
        'SELECT sweep_id FROM store.trials UNION SELECT sweep_id FROM store.probe_events ORDER BY 1',
      );
      return rows.map((r) => String(r['sweep_id']));
    });
  } catch {
    return [];
  }
}

/** The latest attempt of every (trial, epoch) of one sweep in a `phasesweep run` store file. */
export async function loadDuckDbStore(path: string, sweep: string): Promise<StoreRows> {
  // Opening a missing path would create an empty store and report an empty sweep, silently.
  if (!existsSync(path)) {
    throw new PhasesweepError(
      'NOT_FOUND',
      `event store ${path} does not exist (\`phasesweep run\` writes .phasesweep/<sweep>.duckdb; pass --store FILE, --clickhouse URL or --input FILE)`,
    );
  }
  let store;
  try {
    store = await openDuckDbStore(path);
  } catch (err) {
    // Typically the lock a running `phasesweep run` holds on its store, or a file that is not DuckDB.
    const text = causeText(err);
    const hint = /lock/i.test(text)
      ? ' (is a `phasesweep run` still writing it? analyze it when that ends)'
      : '';
    throw new PhasesweepError('INVALID_ARGUMENT', `cannot open event store ${path}: ${text}${hint}`, {
      cause: err,
    });
  }
  let probeRows: StoredProbeRow[];
  let trials: StoredTrial[];
  try {
    probeRows = await store.probeRows(sweep);
    trials = await store.trials(sweep);
  } finally {
    await store.close();
  }
  if (probeRows.length === 0 && trials.length === 0) {
    throw unknownSweep(sweep, `event store ${path}`, await storeSweeps(path));
  }
  return joinStoreRows(probeRows, trials, `${path} sweep ${sweep}`);
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v));

function probeNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = num(v);
  return Number.isFinite(n) ? n : null;
}

function axisCell(v: unknown): AxisValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return num(v);
  // Dates, decimals and the like: their JSON text still groups equal levels together.
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : '';
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** DuckDB's numeric column types: such a column that is no probe is a user scalar. */
const NUMERIC_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?)$/;

/**
 * A Parquet file of probe rows. Two shapes: the CSV contract's columns (trial_id, seed, epoch,
 * axis.<name>, probes, and any other numeric column as a user scalar), or `phasesweep export`'s
 * probe_events.parquet, whose axes live in the trials.parquet beside it. `sweep` picks one sweep
 * from an export that holds several.
 */
export async function loadParquet(path: string, sweep?: string): Promise<StoreRows> {
  if (!existsSync(path)) throw new PhasesweepError('NOT_FOUND', `${path}: no such file`);
  return withMemoryDb(async (query) => {
    const read = async (file: string, where = '') => {
      try {
        return await query(`SELECT * FROM read_parquet(${sqlString(file)})${where}`);
      } catch (err) {
        throw new PhasesweepError('INVALID_ARGUMENT', `${file}: cannot read as Parquet: ${causeText(err)}`, {
          cause: err,
        });
      }
    };
    const described = await query(`DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`).catch(
      (err: unknown) => {
        throw new PhasesweepError('INVALID_ARGUMENT', `${path}: cannot read as Parquet: ${causeText(err)}`, {
          cause: err,
        });
      },
    );
    const columns = described.map((r) => String(r['column_name']));
    const numeric = new Set(
      described
        .filter((r) => NUMERIC_TYPE.test(String(r['column_type'])))
        .map((r) => String(r['column_name'])),
    );
    const has = (c: string) => columns.includes(c);
    if (has('axes_names')) {
      throw new PhasesweepError(
        'INVALID_ARGUMENT',
        `${path} is a trials table; pass the probe_events.parquet beside it`,
      );
    }
    for (const c of ['trial_id', 'seed', 'epoch']) {
      if (!has(c)) {
        throw new PhasesweepError(
          'INVALID_ARGUMENT',
          `${path}: missing column "${c}" (columns: ${columns.join(',')})`,
        );
      }
    }
    const axisColumns = columns.filter((c) => c.startsWith('axis.') && c.length > 5);
    const probes = PROBE_NAMES.filter(has);
    if (has('sweep_id') && axisColumns.length === 0)
      return exported(path, columns, probes, sweep, read, query);
    const known = new Set(['trial_id', 'seed', 'epoch', ...axisColumns, ...probes]);
    // Any other numeric column is a user scalar, as in a CSV; text and the like are ignored.
    const scalars = columns.filter((c) => !known.has(c) && numeric.has(c));
    const ignored = columns.filter((c) => !known.has(c) && !numeric.has(c));
    const rows: AnalysisRow[] = (await read(path)).map((r) => {
      const axes: Record<string, AxisValue> = {};
      for (const c of axisColumns) axes[c.slice(5)] = axisCell(r[c]);
      const values: Record<string, number | null> = {};
      for (const p of [...probes, ...scalars]) values[p] = probeNumber(r[p]);
      return {
        trial_id: String(r['trial_id']),
        seed: num(r['seed']),
        epoch: num(r['epoch']),
        axes,
        probes: values,
      };
    });
    const warnings = ignored.length
      ? [`${path}: ignoring column(s) that are neither axes nor probes: ${ignored.join(', ')}`]
      : [];
    if (sweep !== undefined)
      warnings.push(`${path}: holds one sweep's rows (axis.<name> columns); "${sweep}" is ignored`);
    return { rows, warnings };
  });
}

async function exported(
  path: string,
  columns: readonly string[],
  probes: readonly string[],
  sweep: string | undefined,
  read: (file: string, where?: string) => Promise<Record<string, unknown>[]>,
  query: (sql: string) => Promise<Record<string, unknown>[]>,
): Promise<StoreRows> {
  const trialsPath = join(dirname(path), 'trials.parquet');
  if (!existsSync(trialsPath)) {
    throw new PhasesweepError(
      'NOT_FOUND',
      `${path} has no axis.<name> columns, and ${trialsPath} (the trials, with their axes) is missing`,
    );
  }
  const sweeps = (
    await query(`SELECT DISTINCT sweep_id FROM read_parquet(${sqlString(path)}) ORDER BY 1`)
  ).map((r) => String(r['sweep_id']));
  let chosen = sweep;
  if (chosen === undefined) {
    if (sweeps.length > 1) {
      throw new PhasesweepError(
        'INVALID_ARGUMENT',
        `${path} holds several sweeps (${sweeps.join(', ')}); name one: phasesweep analyze SWEEP --input ${path}`,
      );
    }
    chosen = sweeps[0] ?? '';
  } else if (!sweeps.includes(chosen)) {
    throw unknownSweep(chosen, path, sweeps);
  }
  const where = ` WHERE sweep_id = ${sqlString(chosen)}`;
  // An export holds one row per (trial, epoch) already; the attempt order only guards hand-made files.
  const order = columns.includes('attempt')
    ? ' ORDER BY trial_id, epoch, attempt'
    : ' ORDER BY trial_id, epoch';
  const latest = new Map<string, StoredProbeRow>();
  for (const r of await read(path, where + order)) {
    const values: Record<string, number | null> = {};
    for (const p of probes) values[p] = probeNumber(r[p]);
    const row: StoredProbeRow = {
      trial_id: String(r['trial_id']),
      seed: num(r['seed']),
      epoch: num(r['epoch']),
      probes: values,
      scalars: scalarRecord(r['scalar_names'], r['scalar_values']),
    };
    latest.set(`${row.trial_id}\u0000${row.epoch}`, row);
  }
  const trials: StoredTrial[] = (await read(trialsPath, where)).map((r) => {
    const names = strings(r['axes_names']);
    const values = strings(r['axes_values']);
    const axes: Record<string, string> = {};
    names.forEach((n, i) => (axes[n] = values[i] ?? ''));
    return { trial_id: String(r['trial_id']), status: text(r['status']), axes };
  });
  return joinStoreRows([...latest.values()], trials, `${path} sweep ${chosen}`);
}
