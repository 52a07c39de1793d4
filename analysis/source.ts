// Where analysis rows come from: a CSV or Parquet file, the embedded DuckDB store of a
// `phasesweep run`, or a cluster's ClickHouse. Every source yields the same rows.
import { readFile } from 'node:fs/promises';
import { PhasesweepError } from '../spec/errors.js';
import { parseCsv } from './csv.js';
import { loadClickHouse } from './sources/clickhouse.js';
import { loadDuckDbStore, loadParquet } from './sources/duckdb.js';
import type { AnalysisRow } from './trials.js';

export type RowSource =
  | { kind: 'csv'; path: string }
  /** `sweep` picks one sweep from an exported probe_events.parquet that holds several. */
  | { kind: 'parquet'; path: string; sweep?: string }
  | { kind: 'duckdb'; path: string; sweep: string }
  | { kind: 'clickhouse'; url: string; database: string; sweep: string };

export interface LoadedRows {
  rows: AnalysisRow[];
  warnings: string[];
}

async function loadCsv(path: string): Promise<LoadedRows> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PhasesweepError('NOT_FOUND', `${path}: cannot read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { rows, ignoredColumns } = parseCsv(text, path);
  const warnings = ignoredColumns.length
    ? [`${path}: ignoring column(s) that are neither axes nor probes: ${ignoredColumns.join(', ')}`]
    : [];
  return { rows, warnings };
}

export async function loadRows(source: RowSource): Promise<LoadedRows> {
  switch (source.kind) {
    case 'csv':
      return loadCsv(source.path);
    case 'parquet':
      return loadParquet(source.path, source.sweep);
    case 'duckdb':
      return loadDuckDbStore(source.path, source.sweep);
    case 'clickhouse':
      return loadClickHouse(source);
  }
}
