// What the publisher sends: one message per event by default, or several probe events of one
// trial packed into a ProbeEventBatch payload (opt-in, for high event rates). Pure.

export interface OutboundMessage {
  subject: string;
  /** JetStream de-duplication id (Nats-Msg-Id). */
  msgId: string;
  data: Uint8Array;
  /** Events in the payload: 1 = a bare ProbeEvent/TrialEvent, more = a ProbeEventBatch. */
  count: number;
}

/** Header that marks a ProbeEventBatch payload: both encodings start with field 1, length-delimited. */
export const BATCH_HEADER = 'Phasesweep-Batch';

export interface PackedMessage {
  message: OutboundMessage;
  /** The single-event messages it carries, in order (to requeue them if it is not delivered). */
  parts: OutboundMessage[];
}

function varintLength(n: number): number {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) len++;
  return len;
}

/** ProbeEventBatch bytes from already-encoded ProbeEvents: `events` is field 1, wire type 2. */
export function concatAsBatch(encoded: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const e of encoded) size += 1 + varintLength(e.length) + e.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const e of encoded) {
    out[off++] = 0x0a;
    let v = e.length;
    while (v >= 0x80) {
      out[off++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    out[off++] = v;
    out.set(e, off);
    off += e.length;
  }
  return out;
}

/**
 * Groups single-event probe messages by subject (one trial), keeping first-seen order, into
 * messages of at most `maxPerMessage` events. Trial events and groups of one pass unchanged.
 * The packed msgID names its first and last event, so a replay of the same message is dropped.
 */
export function packMessages(
  batch: readonly OutboundMessage[],
  maxPerMessage: number,
  isProbe: (m: OutboundMessage) => boolean,
): PackedMessage[] {
  if (maxPerMessage <= 1) return batch.map((m) => ({ message: m, parts: [m] }));
  const groups = new Map<string, OutboundMessage[]>();
  const out: PackedMessage[] = [];
  for (const m of batch) {
    if (!isProbe(m)) {
      out.push({ message: m, parts: [m] });
      continue;
    }
    let g = groups.get(m.subject);
    if (g === undefined) {
      g = [];
      groups.set(m.subject, g);
    }
    g.push(m);
  }
  for (const [subject, group] of groups) {
    for (let i = 0; i < group.length; i += maxPerMessage) {
      const parts = group.slice(i, i + maxPerMessage);
      const first = parts[0];
      const last = parts[parts.length - 1];
      if (first === undefined || last === undefined) continue;
      if (parts.length === 1) {
        out.push({ message: first, parts });
        continue;
      }
      out.push({
        message: {
          subject,
          msgId: `${first.msgId}..${last.msgId}`,
          data: concatAsBatch(parts.map((p) => p.data)),
          count: parts.length,
        },
        parts,
      });
    }
  }
  return out;
}
