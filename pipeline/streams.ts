// The JetStream side of the pipeline: the events stream, the dead-letter stream and the
// ingest consumer, created or brought up to date idempotently by whoever starts first.
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { PhasesweepError } from '../spec/errors.js';
import { natsReplicas } from './nats-replicas.js';
import { streamNames } from './subjects.js';

export interface StreamLimits {
  /** Bytes kept in the events stream; when full, publishes are refused (never silently dropped). */
  maxBytes?: number;
  maxAgeMs?: number;
  /** Window in which a repeated msgID is dropped by the server. */
  duplicateWindowMs?: number;
}

const DEFAULTS: Required<StreamLimits> = {
  maxBytes: 4 * 1024 ** 3,
  maxAgeMs: 14 * 24 * 3600_000,
  duplicateWindowMs: 5 * 60_000,
};

export interface IngestConsumerOptions {
  ackWaitMs: number;
  maxAckPending: number;
}

function eventsConfig(
  prefix: string,
  limits: Required<StreamLimits>,
): Partial<StreamConfig> & { name: string } {
  const names = streamNames(prefix);
  return {
    name: names.events,
    subjects: names.eventSubjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // DiscardNew: a full stream refuses publishes, so the publisher spills or blocks instead of
    // the server deleting events nobody has ingested yet.
    discard: DiscardPolicy.New,
    max_bytes: limits.maxBytes,
    max_age: nanos(limits.maxAgeMs),
    max_msg_size: 1024 * 1024,
    duplicate_window: nanos(limits.duplicateWindowMs),
    num_replicas: natsReplicas(),
  };
}

function deadLetterConfig(
  prefix: string,
  limits: Required<StreamLimits>,
): Partial<StreamConfig> & { name: string } {
  const names = streamNames(prefix);
  return {
    name: names.deadLetters,
    subjects: names.deadLetterSubjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_bytes: Math.min(limits.maxBytes, 256 * 1024 ** 2),
    max_age: nanos(limits.maxAgeMs * 2),
    num_replicas: natsReplicas(),
  };
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function ensureStream(
  jsm: JetStreamManager,
  cfg: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      await jsm.streams.add(cfg);
      return;
    } catch (addErr) {
      // Another process created it between our info and add: fall through to the update.
      if (!/already in use|already exists/i.test(String(addErr))) throw addErr;
    }
  }
  const { name, storage: _storage, retention: _retention, ...update } = cfg;
  await jsm.streams.update(name, update);
}

async function withManager<T>(
  target: string | JetStreamManager,
  fn: (jsm: JetStreamManager) => Promise<T>,
): Promise<T> {
  if (typeof target !== 'string') return fn(target);
  let nc;
  try {
    nc = await connect({ servers: target, name: 'phasesweep-ensure-streams' });
  } catch (err) {
    throw new PhasesweepError('UNAVAILABLE', `cannot reach NATS at ${target}`, { cause: err });
  }
  try {
    return await fn(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Creates or updates the events and dead-letter streams of `prefix`; safe to call concurrently. */
export async function ensureStreams(
  natsUrlOrManager: string | JetStreamManager,
  prefix: string,
  limits: StreamLimits = {},
): Promise<void> {
  const resolved = { ...DEFAULTS, ...limits };
  await withManager(natsUrlOrManager, async (jsm) => {
    await ensureStream(jsm, eventsConfig(prefix, resolved));
    await ensureStream(jsm, deadLetterConfig(prefix, resolved));
  });
}

/** The durable pull consumer every ingester of `prefix` shares; explicit acks, unlimited redelivery. */
export async function ensureIngestConsumer(
  jsm: JetStreamManager,
  prefix: string,
  o: IngestConsumerOptions,
): Promise<void> {
  const names = streamNames(prefix);
  const cfg = {
    ack_wait: nanos(o.ackWaitMs),
    max_ack_pending: o.maxAckPending,
    // Redeliver forever: an event is only let go once ClickHouse has it or it is dead-lettered.
    max_deliver: -1,
  };
  try {
    await jsm.consumers.info(names.events, names.ingestConsumer);
    await jsm.consumers.update(names.events, names.ingestConsumer, cfg);
  } catch (err) {
    if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(names.events, {
      ...cfg,
      durable_name: names.ingestConsumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
  }
}
