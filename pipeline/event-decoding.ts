// Turns a message from the events stream back into events, or says why it is poison (to be
// dead-lettered). Pure: the ingester's whole notion of "undecodable" lives here.
import { ProbeEvent, ProbeEventBatch, TrialEvent } from '../proto/index.js';
import { errorMessage } from '../spec/errors.js';
import type { AttemptFence } from './attempt-fence.js';
import { decodeProbeRows, type ProbeRows } from './probe-row-decoder.js';
import { parseEventSubject, subjectToken, type ParsedSubject } from './subjects.js';

export type Decoded =
  | { kind: 'probes'; events: ProbeEvent[] }
  | { kind: 'trial'; event: TrialEvent }
  | { kind: 'poison'; reason: string };

export type DecodedIntoRows =
  | { kind: 'probes'; rows: number; fenced: number }
  | { kind: 'trial'; event: TrialEvent }
  | { kind: 'poison'; reason: string };

function tokenMatches(id: string, token: string): boolean {
  try {
    return subjectToken(id) === token;
  } catch {
    return false;
  }
}

// Protobuf decodes many random byte strings without error; an event whose ids disagree with
// the subject it travelled on is garbage (or misrouted) all the same.
function mismatch(
  sweepId: string,
  trialId: string,
  parsed: ParsedSubject,
  subject: string,
): string | undefined {
  if (tokenMatches(sweepId, parsed.sweepToken) && tokenMatches(trialId, parsed.trialToken)) return undefined;
  return `payload ids (${JSON.stringify(sweepId)}, ${JSON.stringify(trialId)}) do not match subject ${subject}`;
}

function undecodable(parsed: ParsedSubject, err: unknown): { kind: 'poison'; reason: string } {
  return { kind: 'poison', reason: `undecodable ${parsed.kind} payload: ${errorMessage(err)}` };
}

const EMPTY_BATCH = { kind: 'poison', reason: 'empty probe event batch' } as const;

function decodeTrial(
  parsed: ParsedSubject,
  subject: string,
  data: Uint8Array,
  batched: boolean,
): Decoded & DecodedIntoRows {
  if (batched) return { kind: 'poison', reason: 'trial events are never batched' };
  try {
    const event = TrialEvent.decode(data);
    const bad = mismatch(event.sweep_id, event.trial_id, parsed, subject);
    return bad === undefined ? { kind: 'trial', event } : { kind: 'poison', reason: bad };
  } catch (err) {
    return undecodable(parsed, err);
  }
}

/** `batched`: the message carries the batch header, so its payload is a ProbeEventBatch. */
export function decodeEventMessage(
  prefix: string,
  subject: string,
  data: Uint8Array,
  batched = false,
): Decoded {
  const parsed = parseEventSubject(prefix, subject);
  if (parsed === undefined) return { kind: 'poison', reason: `unexpected subject ${subject}` };
  if (parsed.kind === 'trials') return decodeTrial(parsed, subject, data, batched);
  try {
    const events = batched ? ProbeEventBatch.decode(data).events : [ProbeEvent.decode(data)];
    if (events.length === 0) return EMPTY_BATCH;
    for (const e of events) {
      const bad = mismatch(e.sweep_id, e.trial_id, parsed, subject);
      if (bad !== undefined) return { kind: 'poison', reason: bad };
    }
    return { kind: 'probes', events };
  } catch (err) {
    return undecodable(parsed, err);
  }
}

/**
 * decodeEventMessage for the ingester: probe events go straight into `rows` (RowBinary), less
 * those of attempts the fence drops, and poison is called poison for the same reasons.
 */
export function decodeEventMessageInto(
  prefix: string,
  subject: string,
  data: Uint8Array,
  batched: boolean,
  rows: ProbeRows,
  fence: AttemptFence,
): DecodedIntoRows {
  const parsed = parseEventSubject(prefix, subject);
  if (parsed === undefined) return { kind: 'poison', reason: `unexpected subject ${subject}` };
  if (parsed.kind === 'trials') return decodeTrial(parsed, subject, data, batched);
  const start = rows.writer.length;
  const outcome = decodeProbeRows(data, batched, rows, {
    mismatch: (sweepId, trialId) => mismatch(sweepId, trialId, parsed, subject),
    minAttempt: (sweepId, trialId) => fence.minAttempt(sweepId, trialId),
    fromEpoch: (sweepId, trialId) => fence.fromEpoch(sweepId, trialId),
  });
  if (outcome.ok) {
    rows.markMessage(subject, start);
    return { kind: 'probes', rows: outcome.rows, fenced: outcome.fenced };
  }
  if (outcome.reason === 'empty') return EMPTY_BATCH;
  if (outcome.reason === 'mismatch') return { kind: 'poison', reason: outcome.message };
  return undecodable(parsed, outcome.error);
}
