// Reads back what the run's processes stored: probe rows and trial states from ClickHouse (one
// row per (trial, epoch) through FINAL, as the project's readers do), trial status events from
// the JetStream stream, the ingest consumer's backlog, and an embedded run's DuckDB file.
import type { ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  createClickHouseClient,
  latestProbeRowsQuery,
  latestTrialsQuery,
  openDuckDbStore,
  streamNames,
} from '../pipeline/index.js';
import { TrialEvent } from '../proto/index.js';
import { PROBE_NAMES } from '../spec/index.js';
import { normalizeProbe, type StoredRow } from './verdict.js';

export interface StoredTrial {
  trialId: string;
  status: string;
  attempt: number;
}

async function withNats<T>(
  url: string,
  fn: (nc: Awaited<ReturnType<typeof connect>>) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: url, name: 'phasesweep-chaos-check', timeout: 5000 });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Messages not yet acknowledged by an ingester (waiting, or delivered and unacked). */
export async function ingestBacklog(natsUrl: string, prefix: string): Promise<number> {
  return withNats(natsUrl, async (nc) => {
    const names = streamNames(prefix);
    const info = await (await jetstreamManager(nc)).consumers.info(names.events, names.ingestConsumer);
    return info.num_pending + info.num_ack_pending;
  });
}

/** Every trial status event in the events stream, in stream order. */
export async function trialEvents(natsUrl: string, prefix: string): Promise<TrialEvent[]> {
  return withNats(natsUrl, async (nc) => {
    const names = streamNames(prefix);
    const total = (await (await jetstreamManager(nc)).streams.info(names.events)).state.messages;
    const consumer = await jetstream(nc).consumers.get(names.events);
    const out: TrialEvent[] = [];
    let seen = 0;
    const trials = `${prefix}.trials.`;
    while (seen < total) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 5000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (m.subject.startsWith(trials)) out.push(TrialEvent.decode(m.data));
      }
      if (got === 0) throw new Error(`events stream: read ${seen} of ${total} messages, then nothing`);
      seen += got;
    }
    return out;
  });
}

export class ClickHouseReader {
  private readonly client: ClickHouseClient;

  constructor(
    url: string,
    private readonly database: string,
  ) {
    this.client = createClickHouseClient(url, 60_000);
  }

  private async query(sql: string): Promise<Record<string, unknown>[]> {
    const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
    return rs.json<Record<string, unknown>>();
  }

  /** One row per (trial, epoch) of the sweep: the latest attempt's, as FINAL merges them. */
  async probeRows(sweepId: string): Promise<StoredRow[]> {
    const rows = await this.query(latestProbeRowsQuery(this.database, sweepId));
    return rows.map((r) => ({
      trialId: String(r['trial_id']),
      epoch: Number(r['epoch']),
      attempt: Number(r['attempt']),
      probes: Object.fromEntries(PROBE_NAMES.map((p) => [p, normalizeProbe(r[p])])),
    }));
  }

  /** Each trial's latest state (its highest version, through FINAL). */
  async trials(sweepId: string): Promise<StoredTrial[]> {
    const rows = await this.query(latestTrialsQuery(this.database, sweepId));
    return rows.map((r) => ({
      trialId: String(r['trial_id']),
      status: String(r['status']),
      attempt: Number(r['attempt']),
    }));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** An embedded run's store: probe rows (one per key by construction) and trials. */
export async function readDuckDb(
  path: string,
  sweepId: string,
): Promise<{ rows: StoredRow[]; trials: StoredTrial[] }> {
  const store = await openDuckDbStore(path);
  try {
    const rows = (await store.probeRows(sweepId)).map((r) => ({
      trialId: r.trial_id,
      epoch: r.epoch,
      attempt: r.attempt,
      probes: Object.fromEntries(PROBE_NAMES.map((p) => [p, normalizeProbe(r.probes[p])])),
    }));
    const trials = (await store.trials(sweepId)).map((t) => ({
      trialId: t.trial_id,
      status: t.status,
      attempt: t.attempt,
    }));
    return { rows, trials };
  } finally {
    await store.close();
  }
}
