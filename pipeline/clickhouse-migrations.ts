// Applies the versioned schema to a ClickHouse database: creates it if needed, records each
// applied version in `schema_migrations`, and does nothing on a database already up to date.
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { PhasesweepError } from '../spec/errors.js';
import {
  addColumnStatement,
  columnExistsQuery,
  createMigrationsTable,
  MIGRATIONS,
  quoteIdent,
  quoteString,
  type AddColumn,
  type MigrationStatement,
} from './clickhouse-sql.js';

export function createClickHouseClient(url: string, requestTimeoutMs = 30_000): ClickHouseClient {
  return createClient({
    url,
    request_timeout: requestTimeoutMs,
    // Never compress responses: 18.16 answers small queries, and compression costs CPU we need.
    compression: { request: false, response: false },
    // Failures surface as rejected promises that the callers log with context; the client's own
    // logger would print each one a second time, with a stack.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/** The server's error code from a ClickHouse error message (`Code: 60. DB::Exception…`). */
export function clickHouseErrorCode(err: unknown): number | undefined {
  const m = /Code: (\d+)/.exec(err instanceof Error ? err.message : String(err));
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function appliedVersions(client: ClickHouseClient, db: string): Promise<Set<number>> {
  const rs = await client.query({
    query: `SELECT DISTINCT version FROM ${quoteIdent(db)}.schema_migrations`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ version: number | string }>();
  return new Set(rows.map((r) => Number(r.version)));
}

async function hasColumn(client: ClickHouseClient, db: string, a: AddColumn): Promise<boolean> {
  const rs = await client.query({ query: columnExistsQuery(db, a), format: 'JSONEachRow' });
  const rows = await rs.json<{ n: number | string }>();
  return Number(rows[0]?.n ?? 0) > 0;
}

async function apply(client: ClickHouseClient, db: string, s: MigrationStatement): Promise<void> {
  if (typeof s === 'string') {
    await client.command({ query: s });
    return;
  }
  if (await hasColumn(client, db, s)) return;
  try {
    await client.command({ query: addColumnStatement(db, s) });
  } catch (err) {
    // Another migrator added it between our look and our ALTER.
    if (!(await hasColumn(client, db, s))) throw err;
  }
}

export async function migrateWithClient(client: ClickHouseClient, database: string): Promise<number[]> {
  quoteIdent(database);
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)}` });
  await client.command({ query: createMigrationsTable(database) });
  const done = await appliedVersions(client, database);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements(database)) await apply(client, database, statement);
    // Recorded only after every statement succeeded; two migrators racing write the same row twice,
    // which the ReplacingMergeTree and the DISTINCT above absorb.
    await client.command({
      query: `INSERT INTO ${quoteIdent(database)}.schema_migrations (version, name, applied_at) VALUES (${m.version}, ${quoteString(m.name)}, now())`,
    });
    applied.push(m.version);
  }
  return applied;
}

/** Idempotent: returns the versions applied by this call (empty when already up to date). */
export async function migrateClickHouse(clickhouseUrl: string, database: string): Promise<number[]> {
  const client = createClickHouseClient(clickhouseUrl);
  try {
    return await migrateWithClient(client, database);
  } catch (err) {
    if (err instanceof PhasesweepError) throw err;
    throw new PhasesweepError(
      'UNAVAILABLE',
      `ClickHouse migration of "${database}" at ${clickhouseUrl} failed`,
      {
        cause: err,
      },
    );
  } finally {
    await client.close();
  }
}
