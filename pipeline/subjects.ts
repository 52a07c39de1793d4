// Names on the NATS side: subjects, stream and consumer names, and de-duplication ids.
// Pure functions, so the publisher and the ingester agree on them by construction.
import { PhasesweepError } from '../spec/errors.js';

export const DEFAULT_PREFIX = 'phasesweep';

export type EventKind = 'probes' | 'trials';

const SAFE_TOKEN = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Checks a subject prefix: dot-separated safe tokens, no wildcards. */
export function validatePrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `subject prefix "${prefix}": expected dot-separated tokens of [A-Za-z0-9_-]`,
    );
  }
  return prefix;
}

/**
 * An id as one subject token. Safe ids pass unchanged; any other byte becomes `~HH` so that a
 * stray '.', '*' or '>' can never change which subjects a message matches ('~' itself is escaped).
 */
export function subjectToken(id: string): string {
  if (id.length === 0) throw new PhasesweepError('INVALID_ARGUMENT', 'empty id cannot be a subject token');
  if (SAFE_TOKEN.test(id)) return id;
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE_TOKEN.test(ch) ? ch : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function eventSubject(prefix: string, kind: EventKind, sweepId: string, trialId: string): string {
  return `${prefix}.${kind}.${subjectToken(sweepId)}.${subjectToken(trialId)}`;
}

export interface ParsedSubject {
  kind: EventKind;
  sweepToken: string;
  trialToken: string;
}

/** Inverse of eventSubject up to escaping; undefined for subjects outside the prefix. */
export function parseEventSubject(prefix: string, subject: string): ParsedSubject | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const parts = subject.slice(prefix.length + 1).split('.');
  if (parts.length !== 3) return undefined;
  const [kind, sweepToken, trialToken] = parts as [string, string, string];
  if (kind !== 'probes' && kind !== 'trials') return undefined;
  return { kind, sweepToken, trialToken };
}

/** Where an undecodable message goes: the original subject's tail under `<prefix>.deadletter`. */
export function deadLetterSubject(prefix: string, subject: string): string {
  const tail = subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : 'unknown';
  return `${prefix}.deadletter.${tail}`;
}

function streamBase(prefix: string): string {
  return validatePrefix(prefix).replace(/\./g, '_').toUpperCase();
}

export interface StreamNames {
  events: string;
  deadLetters: string;
  eventSubjects: string[];
  deadLetterSubjects: string[];
  /** Durable pull consumer shared by every ingester instance of this prefix. */
  ingestConsumer: string;
}

export function streamNames(prefix: string): StreamNames {
  const base = streamBase(prefix);
  return {
    events: `${base}_EVENTS`,
    deadLetters: `${base}_DEADLETTER`,
    eventSubjects: [`${prefix}.probes.>`, `${prefix}.trials.>`],
    deadLetterSubjects: [`${prefix}.deadletter.>`],
    ingestConsumer: 'ingest',
  };
}

/*
 * De-duplication ids. The sweep id is part of the id because trial ids are only unique inside
 * a sweep, and every sweep of a prefix shares one stream (and one duplicate window).
 */
export function probeMsgId(e: {
  sweep_id: string;
  trial_id: string;
  attempt: number;
  epoch: number;
}): string {
  return `${e.sweep_id}:${e.trial_id}:${e.attempt}:${e.epoch}`;
}

export function trialMsgId(e: {
  sweep_id: string;
  trial_id: string;
  attempt: number;
  status: string;
}): string {
  return `${e.sweep_id}:${e.trial_id}:${e.attempt}:${e.status}`;
}
