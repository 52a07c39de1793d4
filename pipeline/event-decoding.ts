// Turns a message from the events stream back into an event, or says why it is poison (to be
// dead-lettered). Pure: the ingester's whole notion of "undecodable" lives here.
import { ProbeEvent, TrialEvent } from '../proto/index.js';
import { errorMessage } from '../spec/errors.js';
import { parseEventSubject, subjectToken } from './subjects.js';

export type Decoded =
  | { kind: 'probe'; event: ProbeEvent }
  | { kind: 'trial'; event: TrialEvent }
  | { kind: 'poison'; reason: string };

function tokenMatches(id: string, token: string): boolean {
  try {
    return subjectToken(id) === token;
  } catch {
    return false;
  }
}

export function decodeEventMessage(prefix: string, subject: string, data: Uint8Array): Decoded {
  const parsed = parseEventSubject(prefix, subject);
  if (parsed === undefined) return { kind: 'poison', reason: `unexpected subject ${subject}` };
  let event: ProbeEvent | TrialEvent;
  try {
    event = parsed.kind === 'probes' ? ProbeEvent.decode(data) : TrialEvent.decode(data);
  } catch (err) {
    return { kind: 'poison', reason: `undecodable ${parsed.kind} payload: ${errorMessage(err)}` };
  }
  // Protobuf decodes many random byte strings without error; an event whose ids disagree with
  // the subject it travelled on is garbage (or misrouted) all the same.
  if (!tokenMatches(event.sweep_id, parsed.sweepToken) || !tokenMatches(event.trial_id, parsed.trialToken)) {
    return {
      kind: 'poison',
      reason: `payload ids (${JSON.stringify(event.sweep_id)}, ${JSON.stringify(event.trial_id)}) do not match subject ${subject}`,
    };
  }
  return parsed.kind === 'probes'
    ? { kind: 'probe', event: event as ProbeEvent }
    : { kind: 'trial', event: event as TrialEvent };
}
