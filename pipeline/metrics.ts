// Prometheus metrics of an ingester: events and batches written, failed inserts, dead letters
// (read from the ingester's own counters at scrape time) and the lag from an event's creation
// to its acknowledgement after the ClickHouse insert.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Ingester, IngesterOptions } from './ingester.js';

export interface IngestMetrics {
  /** Pass as the ingester's `onBatch`. */
  onBatch: NonNullable<IngesterOptions['onBatch']>;
  observe(ingester: Ingester): void;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry];
  let ingester: Ingester | undefined;
  // Counters that mirror the ingester's stats: each scrape adds what happened since the last.
  const mirror = (name: string, help: string, read: (i: Ingester) => number) => {
    let seen = 0;
    return new Counter({
      name,
      help,
      registers,
      collect() {
        const now = ingester === undefined ? seen : read(ingester);
        if (now > seen) this.inc(now - seen);
        seen = now;
      },
    });
  };
  mirror(
    'phasesweep_ingest_events_total',
    'Events inserted into ClickHouse and acked',
    (i) => i.stats.ingested,
  );
  mirror('phasesweep_ingest_batches_total', 'Batches inserted', (i) => i.stats.batches);
  mirror(
    'phasesweep_ingest_failed_inserts_total',
    'Inserts that failed (retried later)',
    (i) => i.stats.failedInserts,
  );
  mirror(
    'phasesweep_ingest_dead_lettered_total',
    'Undecodable messages moved to the dead-letter stream',
    (i) => i.stats.deadLettered,
  );
  const lag = new Histogram({
    name: 'phasesweep_ingest_lag_seconds',
    help: 'Seconds from an event’s creation on the worker to its ack after the ClickHouse insert',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers,
  });
  const lastBatch = new Gauge({
    name: 'phasesweep_ingest_last_batch_timestamp_seconds',
    help: 'Unix time of the last batch acked',
    registers,
  });
  return {
    onBatch(batch) {
      for (const t of batch.eventTimesMs) lag.observe(Math.max(0, batch.ackedAtMs - t) / 1000);
      lastBatch.set(batch.ackedAtMs / 1000);
    },
    observe(i) {
      ingester = i;
    },
  };
}
