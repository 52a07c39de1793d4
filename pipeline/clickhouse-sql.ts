// SQL text for ClickHouse that runs on 18.16 and on 24.x: identifier and literal escaping,
// the versioned migrations, and the latest-attempt queries. Pure: no client here.
import { PhasesweepError } from '../spec/errors.js';
import { PROBE_NAMES } from '../spec/probes.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A database or table name as a quoted identifier. Names are validated first (not just escaped)
 * because they also end up in file paths on the server and in dashboards.
 */
export function quoteIdent(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `"${name}" is not a valid ClickHouse name ([A-Za-z_][A-Za-z0-9_]*)`,
    );
  }
  return `\`${name}\``;
}

/** A string literal; server-side query parameters do not exist on 18.16, so values are inlined. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A column to add unless the table has it already: 18.16 knows no `ADD COLUMN IF NOT EXISTS`,
 * so the migrator looks in system.columns first.
 */
export interface AddColumn {
  table: string;
  column: string;
  type: string;
}

export type MigrationStatement = string | AddColumn;

export interface Migration {
  version: number;
  name: string;
  /** Each statement is idempotent on its own, so a migration cut short can simply be run again. */
  statements: (db: string) => MigrationStatement[];
}

const probeColumns = PROBE_NAMES.map((p) => `${p} Nullable(Float64)`).join(',\n  ');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'probe_events and trials',
    statements: (db) => [
      // No partition key: ReplacingMergeTree only collapses rows inside one partition, and a
      // retried attempt of an epoch must collapse with the first one whenever it was written.
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.probe_events (
  sweep_id String,
  trial_id String,
  attempt UInt32,
  epoch UInt32,
  seed UInt32,
  time DateTime,
  time_ms UInt64,
  engine String,
  backend String,
  worker_id String,
  ${probeColumns}
) ENGINE = ReplacingMergeTree(attempt)
ORDER BY (sweep_id, trial_id, epoch)`,
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.trials (
  sweep_id String,
  trial_id String,
  sweep_name String,
  attempt UInt32,
  status String,
  version UInt64,
  time DateTime,
  time_ms UInt64,
  seed UInt32,
  config_json String,
  axes_names Array(String),
  axes_values Array(String),
  engine String,
  backend String,
  simd UInt8,
  versions_names Array(String),
  versions_values Array(String),
  reason String,
  worker_id String,
  epochs UInt32
) ENGINE = ReplacingMergeTree(version)
ORDER BY (sweep_id, trial_id)`,
    ],
  },
  {
    version: 2,
    name: 'probe_events user scalars',
    // A trainer's own scalars by name, as parallel arrays sorted by name (no Map type on 18.16).
    // Rows written before read as empty arrays.
    statements: () => [
      { table: 'probe_events', column: 'scalar_names', type: 'Array(String)' },
      { table: 'probe_events', column: 'scalar_values', type: 'Array(Float64)' },
    ],
  },
];

export function columnExistsQuery(db: string, a: AddColumn): string {
  return `SELECT count() AS n FROM system.columns
WHERE database = ${quoteString(db)} AND table = ${quoteString(a.table)} AND name = ${quoteString(a.column)}`;
}

export function addColumnStatement(db: string, a: AddColumn): string {
  return `ALTER TABLE ${quoteIdent(db)}.${quoteIdent(a.table)} ADD COLUMN ${quoteIdent(a.column)} ${a.type}`;
}

export function createMigrationsTable(db: string): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(db)}.schema_migrations (
  version UInt32,
  name String,
  applied_at DateTime
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`;
}

export const PROBE_EVENT_COLUMNS = [
  'sweep_id',
  'trial_id',
  'attempt',
  'epoch',
  'seed',
  'time',
  'time_ms',
  'engine',
  'backend',
  'worker_id',
  ...PROBE_NAMES,
  'scalar_names',
  'scalar_values',
] as const;

export const TRIAL_COLUMNS = [
  'sweep_id',
  'trial_id',
  'sweep_name',
  'attempt',
  'status',
  'version',
  'time',
  'time_ms',
  'seed',
  'config_json',
  'axes_names',
  'axes_values',
  'engine',
  'backend',
  'simd',
  'versions_names',
  'versions_values',
  'reason',
  'worker_id',
  'epochs',
] as const;

/** One row per (trial, epoch), the highest attempt; FINAL works on 18.16 and 24.x alike. */
export function latestProbeRowsQuery(db: string, sweepId: string): string {
  return `SELECT ${PROBE_EVENT_COLUMNS.join(', ')}
FROM ${quoteIdent(db)}.probe_events FINAL
WHERE sweep_id = ${quoteString(sweepId)}
ORDER BY trial_id, epoch`;
}

/** The latest state of each trial of a sweep. */
export function latestTrialsQuery(db: string, sweepId: string): string {
  return `SELECT ${TRIAL_COLUMNS.join(', ')}
FROM ${quoteIdent(db)}.trials FINAL
WHERE sweep_id = ${quoteString(sweepId)}
ORDER BY trial_id`;
}
