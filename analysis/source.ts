// Where analysis rows come from. Today a CSV file; a sweep in the stores plugs in here as another
// source kind that yields the same rows.
import { readFile } from 'node:fs/promises';
import { PhasesweepError } from '../spec/errors.js';
import { parseCsv } from './csv.js';
import type { AnalysisRow } from './trials.js';

export type RowSource = { kind: 'csv'; path: string };

export interface LoadedRows {
  rows: AnalysisRow[];
  warnings: string[];
}

export async function loadRows(source: RowSource): Promise<LoadedRows> {
  let text: string;
  try {
    text = await readFile(source.path, 'utf8');
  } catch (err) {
    throw new PhasesweepError('NOT_FOUND', `${source.path}: cannot read: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { rows, ignoredColumns } = parseCsv(text, source.path);
  const warnings = ignoredColumns.length
    ? [`${source.path}: ignoring column(s) that are neither axes nor probes: ${ignoredColumns.join(', ')}`]
    : [];
  return { rows, warnings };
}
