// Analysis rows from a cluster's ClickHouse: the latest attempt of every (trial, epoch) of one
// sweep, and its trials' axes, through the same queries the rest of the pipeline uses.
import {
  clickHouseErrorCode,
  createClickHouseClient,
  latestProbeRowsQuery,
  latestTrialsQuery,
  quoteIdent,
  scalarRecord,
} from '../../pipeline/index.js';
import { PhasesweepError } from '../../spec/errors.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import { joinStoreRows, type StoredProbeRow, type StoredTrial, type StoreRows } from './store-rows.js';

// ClickHouse error codes that mean "not there" rather than "cannot reach".
const UNKNOWN_TABLE = 60;
const UNKNOWN_DATABASE = 81;
/** A column the query names is missing: a schema older than this reader (no migration yet). */
const UNKNOWN_IDENTIFIER = 47;

export interface ClickHouseSource {
  url: string;
  database: string;
  sweep: string;
  requestTimeoutMs?: number;
}

function zip(names: unknown, values: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(names)) return out;
  const vs = Array.isArray(values) ? values : [];
  names.forEach((n, i) => (out[String(n)] = String(vs[i] ?? '')));
  return out;
}

function probeNumber(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

export async function loadClickHouse(source: ClickHouseSource): Promise<StoreRows> {
  const { url, database, sweep } = source;
  quoteIdent(database);
  const where = `ClickHouse ${url} database ${database}`;
  const client = createClickHouseClient(url, source.requestTimeoutMs ?? 30_000);
  const query = async (sql: string): Promise<Record<string, unknown>[]> => {
    try {
      const rs = await client.query({ query: sql, format: 'JSONEachRow' });
      return await rs.json<Record<string, unknown>>();
    } catch (err) {
      const code = clickHouseErrorCode(err);
      const detail = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (code === UNKNOWN_DATABASE) {
        throw new PhasesweepError('NOT_FOUND', `${where}: no such database`, { cause: err });
      }
      if (code === UNKNOWN_IDENTIFIER) {
        throw new PhasesweepError(
          'FAILED_PRECONDITION',
          `${where}: the tables lack columns this version reads (\`phasesweep ingest\` of this version migrates them): ${detail}`,
          { cause: err },
        );
      }
      if (code === UNKNOWN_TABLE) {
        throw new PhasesweepError(
          'NOT_FOUND',
          `${where}: no probe_events/trials tables (\`phasesweep ingest\` creates them): ${detail}`,
          { cause: err },
        );
      }
      // Anything without a server error code never got an answer: refused, timed out, bad host.
      throw new PhasesweepError(
        code === undefined ? 'UNAVAILABLE' : 'INTERNAL',
        `${where}: ${code === undefined ? 'unreachable' : 'query failed'}: ${detail}`,
        { cause: err },
      );
    }
  };
  try {
    const trials: StoredTrial[] = (await query(latestTrialsQuery(database, sweep))).map((r) => ({
      trial_id: String(r['trial_id']),
      status: typeof r['status'] === 'string' ? r['status'] : '',
      axes: zip(r['axes_names'], r['axes_values']),
    }));
    const probeRows: StoredProbeRow[] = (await query(latestProbeRowsQuery(database, sweep))).map((r) => {
      const probes: Record<string, number | null> = {};
      for (const p of PROBE_NAMES) probes[p] = probeNumber(r[p]);
      return {
        trial_id: String(r['trial_id']),
        seed: Number(r['seed']),
        epoch: Number(r['epoch']),
        probes,
        scalars: scalarRecord(r['scalar_names'], r['scalar_values']),
      };
    });
    if (probeRows.length === 0 && trials.length === 0) {
      const known = (
        await query(`SELECT DISTINCT sweep_id FROM ${quoteIdent(database)}.trials ORDER BY sweep_id LIMIT 21`)
      ).map((r) => String(r['sweep_id']));
      const list =
        known.length === 0
          ? 'it holds no sweeps'
          : `it holds: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}`;
      throw new PhasesweepError('NOT_FOUND', `no sweep "${sweep}" in ${where}; ${list}`);
    }
    return joinStoreRows(probeRows, trials, `${where} sweep ${sweep}`);
  } finally {
    await client.close();
  }
}
