// The event pipeline: workers' events to NATS JetStream (publisher), JetStream to ClickHouse
// (ingester, migrations), and the embedded DuckDB store used on a single machine.
export {
  createNatsEventPublisher,
  type EventPublisher,
  type NatsEventPublisherOptions,
} from './publisher.js';
export { ensureStreams, ensureIngestConsumer, type StreamLimits } from './streams.js';
export {
  createIngester,
  INGEST_DEFAULTS,
  type Ingester,
  type IngesterOptions,
  type IngesterStats,
} from './ingester.js';
export { migrateClickHouse, createClickHouseClient, clickHouseErrorCode } from './clickhouse-migrations.js';
export {
  latestProbeRowsQuery,
  latestTrialsQuery,
  quoteIdent,
  quoteString,
  MIGRATIONS,
  PROBE_EVENT_COLUMNS,
  TRIAL_COLUMNS,
} from './clickhouse-sql.js';
export {
  openDuckDbStore,
  type EventStore,
  type DuckDbEventStore,
  type ProbeRowOut,
  type TrialOut,
} from './duckdb-store.js';
export {
  DEFAULT_PREFIX,
  eventSubject,
  deadLetterSubject,
  streamNames,
  subjectToken,
  probeMsgId,
  trialMsgId,
} from './subjects.js';
export { trialVersion, isUserScalarName, scalarColumns, scalarRecord, type ScalarColumns } from './rows.js';
export type { InsertFormat } from './clickhouse-sink.js';
export { createIngestMetrics, type IngestMetrics } from './metrics.js';
export { tapProbeEvents, type ProbeTap, type ProbeTapOptions } from './probe-tap.js';
export { natsReplicas } from './nats-replicas.js';
