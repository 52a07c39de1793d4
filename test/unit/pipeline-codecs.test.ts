// Pure parts of the pipeline: names on the wire, packing, the spill format, the fast ProbeEvent
// encoder, RowBinary rows, message decoding, SQL quoting and retry delays.
import { describe, expect, it } from 'vitest';
import { ProbeEvent, ProbeEventBatch, TrialEvent } from '../../proto/index.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import { backoffDelay } from '../../pipeline/backoff.js';
import { quoteIdent, quoteString } from '../../pipeline/clickhouse-sql.js';
import { decodeEventMessage, decodeEventMessageInto } from '../../pipeline/event-decoding.js';
import { writeProbeEvent } from '../../pipeline/probe-codec.js';
import { ProbePacker } from '../../pipeline/probe-packer.js';
import { AttemptFence } from '../../pipeline/attempt-fence.js';
import { ProbeRows } from '../../pipeline/probe-row-decoder.js';
import { readProbeRows, RowBinaryWriter } from '../../pipeline/rowbinary.js';
import { probeRow, scalarColumns, scalarRecord, trialVersion } from '../../pipeline/rows.js';
import { decodeSpillRecords, encodeSpillRecords } from '../../pipeline/spill-format.js';
import {
  deadLetterSubject,
  eventSubject,
  parseEventSubject,
  probeMsgId,
  streamNames,
  subjectToken,
  validatePrefix,
} from '../../pipeline/subjects.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('subjects', () => {
  it('passes safe ids and escapes everything that could change subject matching', () => {
    expect(subjectToken('trial-0001_a')).toBe('trial-0001_a');
    expect(subjectToken('a.b*c>d')).toBe('a~2Eb~2Ac~3Ed');
    expect(subjectToken('~')).toBe('~7E');
    expect(subjectToken('é')).toBe('~C3~A9');
    expect(() => subjectToken('')).toThrow(/empty id/);
    const subject = eventSubject('ps', 'probes', 'sw.1', 't 2');
    expect(subject).toBe('ps.probes.sw~2E1.t~202');
    expect(parseEventSubject('ps', subject)).toEqual({
      kind: 'probes',
      sweepToken: 'sw~2E1',
      trialToken: 't~202',
    });
    expect(parseEventSubject('ps', 'ps.other.a.b')).toBeUndefined();
    expect(parseEventSubject('ps', 'ps.probes.a')).toBeUndefined();
    expect(deadLetterSubject('ps', subject)).toBe('ps.deadletter.probes.sw~2E1.t~202');
  });

  it('validates prefixes and derives stream names from them', () => {
    expect(validatePrefix('org.phasesweep')).toBe('org.phasesweep');
    for (const bad of ['', 'a..b', 'a.*', 'a b', '.a']) expect(() => validatePrefix(bad)).toThrow(/prefix/);
    expect(streamNames('org.ps-1')).toMatchObject({
      events: 'ORG_PS-1_EVENTS',
      deadLetters: 'ORG_PS-1_DEADLETTER',
      eventSubjects: ['org.ps-1.probes.>', 'org.ps-1.trials.>'],
    });
    expect(probeMsgId({ sweep_id: 's', trial_id: 't', attempt: 2, epoch: 7 })).toBe('s:t:2:7');
  });
});

/** Scalar names that exercise the map encoding: long, non-ASCII, integer-like, empty, probe names. */
const SCALAR_NAMES = [
  'perplexity',
  'attn_entropy',
  'a',
  'ü',
  'x'.repeat(200),
  '10',
  '2',
  '',
  'loss',
  'ω'.repeat(70),
];

function randomScalars(rand: () => number): Record<string, number> {
  const out: Record<string, number> = {};
  const n = rand() < 0.4 ? 0 : 1 + Math.floor(rand() * 5);
  for (let k = 0; k < n; k++) {
    const name = SCALAR_NAMES[Math.floor(rand() * SCALAR_NAMES.length)]!;
    const r = rand();
    out[name] =
      r < 0.1
        ? 0
        : r < 0.15
          ? -0
          : r < 0.2
            ? Number.NaN
            : r < 0.25
              ? Number.POSITIVE_INFINITY
              : (rand() - 0.5) * 1e6;
  }
  return out;
}

function randomEvent(rand: () => number, i: number): ProbeEvent {
  const e = ProbeEvent.fromPartial({
    sweep_id: i % 5 === 0 ? '' : `sweep-${i}`,
    trial_id: i % 7 === 0 ? 'ü'.repeat(70) : `t${i}`,
    attempt: i % 3,
    epoch: Math.floor(rand() * 100_000),
    seed: Math.floor(rand() * 2 ** 32),
    time_ms: 1_700_000_000_000 + Math.floor(rand() * 1e9),
    engine: 'tfjs',
    backend: i % 2 === 0 ? 'wasm' : '',
    worker_id: `w${i}`,
  });
  for (const p of PROBE_NAMES) {
    const r = rand();
    if (r < 0.3) continue;
    e[p] = r < 0.35 ? Number.NaN : r < 0.4 ? -0 : (rand() - 0.5) * 1e6;
  }
  e.scalars = randomScalars(rand);
  return e;
}

describe('fast ProbeEvent encoder', () => {
  it('produces exactly the generated encoder’s bytes, appended to what is there', () => {
    const rand = lcg(42);
    const sink = { buf: Buffer.from([7]), end: 1 };
    const expected: Uint8Array[] = [new Uint8Array([7])];
    for (let i = 0; i < 500; i++) {
      const e = randomEvent(rand, i);
      writeProbeEvent(e, sink);
      expected.push(ProbeEvent.encode(e).finish());
    }
    expect(sink.buf.subarray(0, sink.end).equals(Buffer.concat(expected))).toBe(true);
  });

  it('encodes scalars as the generated encoder does, and an empty map as nothing at all', () => {
    const base = ProbeEvent.fromPartial({ sweep_id: 's', trial_id: 't', epoch: 3, loss: 1 });
    const bytes = (e: ProbeEvent) => {
      const sink = { buf: Buffer.alloc(4), end: 0 };
      writeProbeEvent(e, sink);
      return sink.buf.subarray(0, sink.end);
    };
    expect(bytes(base).length).toBe(ProbeEvent.encode({ ...base, scalars: {} }).finish().length);
    const cases: Record<string, number>[] = [
      { perplexity: 12.5, attn_entropy: 0.25 },
      { '': 1, zero: 0, negZero: -0 },
      { b: 1, '7': 2, a: 3 }, // integer-like keys come first, as in Object.entries
      { ['k'.repeat(130)]: 1, ['é'.repeat(80)]: 2 }, // entries longer than 127 bytes
      { ['q'.repeat(20_000)]: 4 },
    ];
    for (const scalars of cases) {
      const e = { ...base, scalars };
      expect(
        bytes(e).equals(Buffer.from(ProbeEvent.encode(e).finish())),
        JSON.stringify(scalars).slice(0, 40),
      ).toBe(true);
      const back = ProbeEvent.decode(bytes(e)).scalars;
      expect(Object.keys(back).sort()).toEqual(Object.keys(scalars).sort());
    }
  });
});

describe('packing', () => {
  const ev = (trial: string, epoch: number, extra: Partial<ProbeEvent> = {}) =>
    ProbeEvent.fromPartial({ sweep_id: 's', trial_id: trial, epoch, attempt: 1, ...extra });

  it('packs probe events per trial as they come, in order, up to the limit', () => {
    const packer = new ProbePacker('p', 2);
    expect(packer.add(ev('a', 0))).toBeUndefined();
    expect(packer.add(ev('b', 0))).toBeUndefined();
    const full = packer.add(ev('a', 1));
    expect(full && [full.subject, full.msgId, full.count]).toEqual(['p.probes.s.a', 's:a:1:0..s:a:1:1', 2]);
    expect(ProbeEventBatch.decode(full?.data ?? new Uint8Array()).events).toEqual([ev('a', 0), ev('a', 1)]);
    expect(packer.add(ev('a', 2))).toBeUndefined();
    expect(packer.size).toBe(2);
    const rest = packer.sealAll();
    expect(packer.size).toBe(0);
    // A message of one event is a bare ProbeEvent.
    expect(rest.map((m) => [m.subject, m.msgId, m.count])).toEqual([
      ['p.probes.s.b', 's:b:1:0', 1],
      ['p.probes.s.a', 's:a:1:2', 1],
    ]);
    expect(ProbeEvent.decode(rest[1]?.data ?? new Uint8Array())).toEqual(ev('a', 2));
    expect(packer.sealAll()).toEqual([]);
  });

  it('seals one trial on demand, and rejects an invalid id without keeping anything', () => {
    const packer = new ProbePacker('p', 8);
    packer.add(ev('a', 0));
    packer.add(ev('b', 0));
    expect(packer.sealTrial('s', 'a')?.msgId).toBe('s:a:1:0');
    expect(packer.sealTrial('s', 'a')).toBeUndefined();
    expect(() => packer.add(ev('', 1))).toThrow(/empty id/);
    expect(packer.size).toBe(1);
  });

  it('makes the generated encoder’s ProbeEventBatch bytes, short and long events included', () => {
    const rand = lcg(5);
    const events = [
      ev('t', 0, { engine: 'x'.repeat(300), loss: 1 }),
      ev('t', 1, { worker_id: 'y'.repeat(20_000) }),
      ...Array.from({ length: 40 }, (_, i) => ({ ...randomEvent(rand, i), sweep_id: 's', trial_id: 't' })),
    ];
    const packer = new ProbePacker('p', 64);
    for (const e of events) packer.add(e);
    const [m] = packer.sealAll();
    expect(Buffer.from(m?.data ?? []).equals(Buffer.from(ProbeEventBatch.encode({ events }).finish()))).toBe(
      true,
    );
  });
});

describe('spill format', () => {
  it('round-trips records and ignores a torn tail', () => {
    const messages = [
      { subject: 'p.probes.s.t', msgId: 's:t:1:0', data: new Uint8Array([1, 2, 3]), count: 1 },
      { subject: 'p.probes.s.ü', msgId: 'id', data: new Uint8Array(0), count: 7 },
    ];
    const buf = encodeSpillRecords(messages);
    expect(decodeSpillRecords(buf)).toEqual({ messages, tornBytes: 0 });
    const torn = decodeSpillRecords(buf.subarray(0, buf.length - 1));
    expect(torn.messages).toEqual(messages.slice(0, 1));
    expect(torn.tornBytes).toBeGreaterThan(0);
    expect(decodeSpillRecords(Buffer.alloc(0))).toEqual({ messages: [], tornBytes: 0 });
  });
});

describe('RowBinary', () => {
  it('lays out a probe row as ClickHouse expects', () => {
    const e = ProbeEvent.fromPartial({
      sweep_id: 's',
      trial_id: 'tt',
      attempt: 2,
      epoch: 3,
      seed: 4,
      time_ms: 5_000_123,
      loss: 0.5,
      rel_drift: Number.POSITIVE_INFINITY,
    });
    const rows = new ProbeRows();
    const subject = eventSubject('p', 'probes', 's', 'tt');
    decodeEventMessageInto('p', subject, ProbeEvent.encode(e).finish(), false, rows, new AttemptFence());
    const row = rows.writer.bytes();
    const expected = Buffer.concat([
      Buffer.from([1, 0x73, 2, 0x74, 0x74]),
      Buffer.from([2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]),
      Buffer.from([5000 & 0xff, 5000 >> 8, 0, 0]), // time: unix seconds
      Buffer.from([0xbb, 0x4b, 0x4c, 0, 0, 0, 0, 0]), // time_ms 5 000 123 as UInt64 LE
      Buffer.from([0, 0, 0]), // engine, backend, worker_id: empty strings
      Buffer.concat(
        PROBE_NAMES.map((p) => {
          if (p !== 'loss') return Buffer.from([1]); // null (∞ included)
          const b = Buffer.alloc(9);
          b.writeDoubleLE(0.5, 1);
          return b;
        }),
      ),
    ]);
    expect(row.toString('hex')).toBe(expected.toString('hex') + '0000'); // no scalars: two empty arrays
  });

  it('writes user scalars as name-sorted parallel arrays, without probe names or non-finite values', () => {
    const e = ProbeEvent.fromPartial({
      sweep_id: 's',
      trial_id: 't',
      scalars: { perplexity: 2, a: 0.5, loss: 7, bad: Number.NaN, huge: Number.NEGATIVE_INFINITY, zero: 0 },
    });
    const rows = new ProbeRows();
    const subject = eventSubject('p', 'probes', 's', 't');
    decodeEventMessageInto('p', subject, ProbeEvent.encode(e).finish(), false, rows, new AttemptFence());
    const bytes = rows.writer.bytes();
    const names = Buffer.from([3, 1, 0x61, 10, ...Buffer.from('perplexity'), 4, ...Buffer.from('zero')]);
    const values = Buffer.alloc(1 + 3 * 8);
    values[0] = 3;
    [0.5, 2, 0].forEach((v, i) => values.writeDoubleLE(v, 1 + 8 * i));
    expect(bytes.subarray(bytes.length - names.length - values.length).toString('hex')).toBe(
      Buffer.concat([names, values]).toString('hex'),
    );
    expect(readProbeRows(bytes)[0]).toMatchObject({
      scalar_names: ['a', 'perplexity', 'zero'],
      scalar_values: [0.5, 2, 0],
      loss: null,
    });
    expect(probeRow(e)).toMatchObject({
      scalar_names: ['a', 'perplexity', 'zero'],
      scalar_values: [0.5, 2, 0],
    });
  });

  it('writes long strings with a multi-byte length and grows its buffer', () => {
    const w = new RowBinaryWriter(4);
    const long = 'é'.repeat(100); // 200 bytes
    w.string(long);
    w.stringArray(['a', 'b']);
    const out = w.bytes();
    expect([...out.subarray(0, 2)]).toEqual([(200 & 0x7f) | 0x80, 1]);
    expect(out.subarray(2, 202).toString('utf8')).toBe(long);
    expect([...out.subarray(202)]).toEqual([2, 1, 0x61, 1, 0x62]);
  });
});

describe('decoding messages from the stream', () => {
  const probe = ProbeEvent.fromPartial({ sweep_id: 'a.b', trial_id: 't1', epoch: 1 });
  const subject = eventSubject('p', 'probes', 'a.b', 't1');

  it('accepts events whose ids match their subject, bare or packed', () => {
    expect(decodeEventMessage('p', subject, ProbeEvent.encode(probe).finish())).toEqual({
      kind: 'probes',
      events: [probe],
    });
    const packed = ProbeEventBatch.encode({ events: [probe, { ...probe, epoch: 2 }] }).finish();
    const d = decodeEventMessage('p', subject, packed, true);
    expect(d.kind === 'probes' && d.events.map((e) => e.epoch)).toEqual([1, 2]);
    const trial = TrialEvent.fromPartial({ sweep_id: 'a.b', trial_id: 't1', status: 'running' });
    expect(
      decodeEventMessage('p', eventSubject('p', 'trials', 'a.b', 't1'), TrialEvent.encode(trial).finish()),
    ).toEqual({ kind: 'trial', event: trial });
  });

  it('hands live views the events with their scalars', () => {
    const withScalars = { ...probe, scalars: { perplexity: 3.5, attn_entropy: 0.1 } };
    expect(decodeEventMessage('p', subject, ProbeEvent.encode(withScalars).finish())).toEqual({
      kind: 'probes',
      events: [withScalars],
    });
  });

  it('calls garbage, misrouted and empty payloads poison', () => {
    const reasons = [
      decodeEventMessage('p', subject, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f])),
      decodeEventMessage('p', subject, ProbeEvent.encode({ ...probe, trial_id: 't2' }).finish()),
      decodeEventMessage('p', subject, new Uint8Array(0)),
      decodeEventMessage('p', subject, new Uint8Array(0), true),
      decodeEventMessage('p', 'p.unknown.a.b', new Uint8Array(0)),
    ].map((d) => (d.kind === 'poison' ? d.reason : d.kind));
    expect(reasons[0]).toMatch(/undecodable probes payload/);
    expect(reasons[1]).toMatch(/do not match subject/);
    expect(reasons[2]).toMatch(/do not match subject/);
    expect(reasons[3]).toMatch(/empty probe event batch/);
    expect(reasons[4]).toMatch(/unexpected subject/);
  });
});

describe('user scalars in rows', () => {
  it('keeps user scalar names only, finite values only, sorted, the last of a name winning', () => {
    expect(
      scalarColumns([
        ['z', 1],
        ['loss', 2],
        ['', 3],
        ['__proto__', 4],
        ['a', Number.NaN],
        ['m', 5],
        ['z', 6],
      ]),
    ).toEqual({ names: ['m', 'z'], values: [5, 6] });
    expect(scalarColumns([])).toEqual({ names: [], values: [] });
    expect(scalarRecord(['b', 'a', 'val_acc', 'c'], [1, 2, 3, Number.NaN])).toEqual({ a: 2, b: 1 });
    expect(scalarRecord(undefined, null)).toEqual({});
  });
});

describe('SQL quoting, versions and backoff', () => {
  it('quotes identifiers only when valid, and escapes string literals', () => {
    expect(quoteIdent('ps_db1')).toBe('`ps_db1`');
    for (const bad of ['a`b', '1abc', 'a-b', 'a b', '', 'x'.repeat(64)])
      expect(() => quoteIdent(bad)).toThrow();
    expect(quoteString("it's \\ fine")).toBe("'it\\'s \\\\ fine'");
  });

  it('orders trial versions by attempt, then terminal over running', () => {
    expect(trialVersion(1, 'completed')).toBeGreaterThan(trialVersion(1, 'running'));
    expect(trialVersion(1, 'released')).toBeGreaterThan(trialVersion(1, 'running'));
    expect(trialVersion(2, 'leased')).toBeGreaterThan(trialVersion(1, 'failed'));
  });

  it('backs off exponentially with jitter inside [ceiling/2, ceiling], capped', () => {
    expect(backoffDelay(0)).toBe(0);
    expect(backoffDelay(1, { baseMs: 100, maxMs: 1000 }, () => 0)).toBe(50);
    expect(backoffDelay(3, { baseMs: 100, maxMs: 1000 }, () => 1)).toBe(400);
    expect(backoffDelay(50, { baseMs: 100, maxMs: 1000 }, () => 0.5)).toBe(750);
  });
});
