// Listens to the probe events on NATS for live views (the coordinator's live page in cluster
// mode): a plain core subscription, so nothing is acked, persisted or taken from the ingester.
// Lifecycle: tapProbeEvents() → close().
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ProbeEvent } from '../proto/index.js';
import { errorMessage, PhasesweepError } from '../spec/errors.js';
import { decodeEventMessage } from './event-decoding.js';
import { BATCH_HEADER } from './outbound.js';
import { DEFAULT_PREFIX, validatePrefix } from './subjects.js';

export interface ProbeTapOptions {
  natsUrl: string;
  prefix?: string;
  onEvents: (events: ProbeEvent[]) => void;
}

export interface ProbeTap {
  close(): Promise<void>;
}

export async function tapProbeEvents(o: ProbeTapOptions): Promise<ProbeTap> {
  const prefix = validatePrefix(o.prefix ?? DEFAULT_PREFIX);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: o.natsUrl, name: 'phasesweep-probe-tap', maxReconnectAttempts: -1 });
  } catch (err) {
    throw new PhasesweepError('UNAVAILABLE', `cannot reach NATS at ${o.natsUrl}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  // Undecodable messages are the ingester's business (it dead-letters them); a view skips them.
  nc.subscribe(`${prefix}.probes.>`, {
    callback: (err, m) => {
      if (err !== null) return;
      const d = decodeEventMessage(prefix, m.subject, m.data, m.headers?.has(BATCH_HEADER) === true);
      if (d.kind === 'probes') o.onEvents(d.events);
    },
  });
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= nc.drain().catch(() => undefined);
      return closed;
    },
  };
}
