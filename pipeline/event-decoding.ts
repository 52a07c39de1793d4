// Turns a message from the events stream back into events, or says why it is poison (to be
// dead-lettered). Pure: the ingester's whole notion of "undecodable" lives here.
import { ProbeEvent, ProbeEventBatch, TrialEvent } from '../proto/index.js';
import { errorMessage } from '../spec/errors.js';
import { parseEventSubject, subjectToken, type ParsedSubject } from './subjects.js';

export type Decoded =
  | { kind: 'probes'; events: ProbeEvent[] }
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
  e: { sweep_id: string; trial_id: string },
  parsed: ParsedSubject,
  subject: string,
): string | undefined {
  if (tokenMatches(e.sweep_id, parsed.sweepToken) && tokenMatches(e.trial_id, parsed.trialToken))
    return undefined;
  return `payload ids (${JSON.stringify(e.sweep_id)}, ${JSON.stringify(e.trial_id)}) do not match subject ${subject}`;
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
  try {
    if (parsed.kind === 'trials') {
      if (batched) return { kind: 'poison', reason: 'trial events are never batched' };
      const event = TrialEvent.decode(data);
      const bad = mismatch(event, parsed, subject);
      return bad === undefined ? { kind: 'trial', event } : { kind: 'poison', reason: bad };
    }
    const events = batched ? ProbeEventBatch.decode(data).events : [ProbeEvent.decode(data)];
    if (events.length === 0) return { kind: 'poison', reason: 'empty probe event batch' };
    for (const e of events) {
      const bad = mismatch(e, parsed, subject);
      if (bad !== undefined) return { kind: 'poison', reason: bad };
    }
    return { kind: 'probes', events };
  } catch (err) {
    return { kind: 'poison', reason: `undecodable ${parsed.kind} payload: ${errorMessage(err)}` };
  }
}
