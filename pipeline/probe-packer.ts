// Packs probe events into messages as they are published: each trial has at most one open
// message, and each event is encoded once, straight into it, so nothing per event outlives the
// publish call. A message of one event is a bare ProbeEvent; of more, a ProbeEventBatch whose
// msgID names its first and last event (so the same message sent again is dropped). Pure.
import type { ProbeEvent } from '../proto/index.js';
import { writeProbeEvent } from './probe-codec.js';
import type { OutboundMessage } from './outbound.js';
import { eventSubject, probeMsgId } from './subjects.js';

interface OpenMessage {
  readonly sweepId: string;
  readonly trialId: string;
  readonly subject: string;
  readonly firstMsgId: string;
  /** ProbeEventBatch bytes so far: `events` entries (field 1, length-delimited). */
  buf: Buffer;
  end: number;
  /** Where the first event's own bytes start (after its tag and length). */
  firstAt: number;
  count: number;
  lastAttempt: number;
  lastEpoch: number;
}

/** Bytes an event usually takes; a message starts with room for this many per event. */
const TYPICAL_EVENT_BYTES = 260;

export class ProbePacker {
  /** Sweep id → trial id → its open message (two levels: no key string built per event). */
  private readonly open = new Map<string, Map<string, OpenMessage>>();
  private events = 0;

  constructor(
    private readonly prefix: string,
    private readonly maxPerMessage: number,
  ) {}

  /** Events in open messages. */
  get size(): number {
    return this.events;
  }

  /** Adds an event; returns its trial's message if this event filled it. Throws on an invalid id. */
  add(e: ProbeEvent): OutboundMessage | undefined {
    let trials = this.open.get(e.sweep_id);
    let m = trials?.get(e.trial_id);
    if (m === undefined) {
      const subject = eventSubject(this.prefix, 'probes', e.sweep_id, e.trial_id);
      if (trials === undefined) {
        trials = new Map();
        this.open.set(e.sweep_id, trials);
      }
      m = {
        sweepId: e.sweep_id,
        trialId: e.trial_id,
        subject,
        firstMsgId: probeMsgId(e),
        buf: Buffer.allocUnsafe(this.maxPerMessage * TYPICAL_EVENT_BYTES),
        end: 0,
        firstAt: 0,
        count: 0,
        lastAttempt: 0,
        lastEpoch: 0,
      };
      trials.set(e.trial_id, m);
    }
    const at = append(m, e);
    if (m.count === 0) m.firstAt = at;
    m.count++;
    m.lastAttempt = e.attempt;
    m.lastEpoch = e.epoch;
    this.events++;
    return m.count >= this.maxPerMessage ? this.seal(trials!, m) : undefined;
  }

  /** Closes the open message of one trial, if there is one (before a trial event about it is sent). */
  sealTrial(sweepId: string, trialId: string): OutboundMessage | undefined {
    const trials = this.open.get(sweepId);
    const m = trials?.get(trialId);
    return m === undefined ? undefined : this.seal(trials!, m);
  }

  /** Closes every open message, in the order they were opened per sweep. */
  sealAll(): OutboundMessage[] {
    const out: OutboundMessage[] = [];
    for (const trials of [...this.open.values()]) {
      for (const m of [...trials.values()]) out.push(this.seal(trials, m));
    }
    return out;
  }

  private seal(trials: Map<string, OpenMessage>, m: OpenMessage): OutboundMessage {
    trials.delete(m.trialId);
    if (trials.size === 0) this.open.delete(m.sweepId);
    this.events -= m.count;
    if (m.count === 1) {
      return { subject: m.subject, msgId: m.firstMsgId, data: m.buf.subarray(m.firstAt, m.end), count: 1 };
    }
    const last = probeMsgId({
      sweep_id: m.sweepId,
      trial_id: m.trialId,
      attempt: m.lastAttempt,
      epoch: m.lastEpoch,
    });
    return {
      subject: m.subject,
      msgId: `${m.firstMsgId}..${last}`,
      data: m.buf.subarray(0, m.end),
      count: m.count,
    };
  }
}

/**
 * Appends one `events` entry (tag 0x0a, the length as a varint, the event) and returns where the
 * event's own bytes start. The event is encoded in place after room for a two-byte length, the
 * usual one; any other length moves it once.
 */
function append(m: OpenMessage, e: ProbeEvent): number {
  const start = m.end;
  if (start + 3 > m.buf.length) grow(m, 3);
  m.buf[start] = 0x0a;
  m.end = start + 3;
  writeProbeEvent(e, m);
  const len = m.end - (start + 3);
  let lenBytes = 1;
  for (let v = len; v >= 0x80; v >>>= 7) lenBytes++;
  if (lenBytes !== 2) {
    if (m.end + lenBytes - 2 > m.buf.length) grow(m, lenBytes - 2);
    m.buf.copyWithin(start + 1 + lenBytes, start + 3, m.end);
    m.end += lenBytes - 2;
  }
  let o = start + 1;
  let v = len;
  while (v >= 0x80) {
    m.buf[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  m.buf[o++] = v;
  return o;
}

function grow(m: OpenMessage, n: number): void {
  const next = Buffer.allocUnsafe(Math.max(m.end + n, m.buf.length * 2));
  m.buf.copy(next, 0, 0, m.end);
  m.buf = next;
}
