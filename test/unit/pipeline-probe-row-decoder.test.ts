// The ingester's probe decoder (protobuf straight to RowBinary) against the generated decoder:
// the same events, the same rows, the same poison with the same reasons, for well-formed
// messages, unknown and repeated fields, truncations, mutations and noise.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { ProbeEvent, ProbeEventBatch, TrialEvent } from '../../proto/index.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import { AttemptFence } from '../../pipeline/attempt-fence.js';
import { decodeEventMessage, decodeEventMessageInto } from '../../pipeline/event-decoding.js';
import { ProbeRows } from '../../pipeline/probe-row-decoder.js';
import { readProbeRows } from '../../pipeline/rowbinary.js';
import { probeRow } from '../../pipeline/rows.js';
import { eventSubject } from '../../pipeline/subjects.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PREFIX = 'p';
const SWEEP = 'sweep-1';
const TRIALS = ['t1', 'trial.with.dots', 'ü'.repeat(40), '\uFEFFbom'];

/** The generated decoder's verdict, as the ingester used to act on it. */
function expected(subject: string, data: Uint8Array, batched: boolean, fence: AttemptFence) {
  const d = decodeEventMessage(PREFIX, subject, data, batched);
  if (d.kind !== 'probes') return d;
  const kept = d.events.filter((e) => !fence.fenced(e.sweep_id, e.trial_id, e.attempt, e.epoch));
  return {
    kind: 'probes',
    // DateTime is a UInt32 in RowBinary: seconds past 2106 wrap, as they always did there.
    rows: kept.map((e) => ({ ...probeRow(e), time: Number(probeRow(e)['time']) % 2 ** 32 })),
    fenced: d.events.length - kept.length,
    times: kept.map((e) => e.time_ms),
  };
}

const before = ProbeEvent.encode(ProbeEvent.fromPartial({ sweep_id: 'x', trial_id: 'y', loss: 1 })).finish();

function actual(subject: string, data: Uint8Array, batched: boolean, fence: AttemptFence) {
  // A message already in the batch must survive whatever this one turns out to be.
  const rows = new ProbeRows(1);
  const x = decodeEventMessageInto(
    PREFIX,
    eventSubject(PREFIX, 'probes', 'x', 'y'),
    before,
    false,
    rows,
    fence,
  );
  expect(x).toEqual({ kind: 'probes', rows: 1, fenced: 0 });
  const d = decodeEventMessageInto(PREFIX, subject, data, batched, rows, fence);
  const all = readProbeRows(rows.writer.bytes());
  expect(all[0]).toMatchObject({ sweep_id: 'x', trial_id: 'y', loss: 1 });
  if (d.kind !== 'probes') {
    expect(rows.count).toBe(1);
    expect(all).toHaveLength(1);
    return d;
  }
  expect(rows.count).toBe(all.length);
  return {
    kind: 'probes',
    rows: all.slice(1),
    fenced: d.fenced,
    times: [...rows.eventTimesMs().subarray(1)],
  };
}

function agree(subject: string, data: Uint8Array, batched: boolean, fence = new AttemptFence()) {
  const want = expected(subject, data, batched, fence);
  expect(actual(subject, data, batched, fence)).toEqual(want);
  return want.kind;
}

/** Names for the `scalars` map: plain, non-ASCII, a BOM, long (a multi-byte length), a probe's. */
const SCALAR_NAMES = [
  'perplexity',
  'attn_entropy',
  'x.y-z',
  'ü',
  '\uFEFFbom',
  'k'.repeat(150),
  '7',
  'val_acc',
  '',
];

function randomScalars(rand: () => number): Record<string, number> {
  const out: Record<string, number> = {};
  const n = rand() < 0.3 ? 0 : 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    const name =
      rand() < 0.2
        ? String.fromCharCode(
            ...Array.from({ length: 1 + Math.floor(rand() * 12) }, () => 32 + Math.floor(rand() * 300)),
          )
        : SCALAR_NAMES[Math.floor(rand() * SCALAR_NAMES.length)]!;
    const r = rand();
    out[name] =
      r < 0.1
        ? 0
        : r < 0.15
          ? Number.NaN
          : r < 0.2
            ? Number.NEGATIVE_INFINITY
            : r < 0.25
              ? Number.MIN_VALUE
              : (rand() - 0.5) * 1e9;
  }
  return out;
}

/** One ScalarsEntry on the wire, fields as given (to build what the generated encoder never writes). */
function scalarEntry(build: (w: BinaryWriter) => void): Uint8Array {
  const entry = new BinaryWriter();
  build(entry);
  return new BinaryWriter().tag(40, WireType.LengthDelimited).bytes(entry.finish()).finish();
}

function randomEvent(rand: () => number, trial: string): ProbeEvent {
  const e = ProbeEvent.fromPartial({
    sweep_id: SWEEP,
    trial_id: trial,
    attempt: rand() < 0.2 ? 0 : Math.floor(rand() * 4),
    epoch: rand() < 0.1 ? 0 : Math.floor(rand() * 100_000),
    seed: rand() < 0.1 ? 2 ** 32 - 1 : Math.floor(rand() * 2 ** 32),
    time_ms: rand() < 0.1 ? 0 : 1_700_000_000_000 + Math.floor(rand() * 1e9),
    engine: rand() < 0.3 ? '' : 'tfjs',
    backend: rand() < 0.3 ? 'wäsm' : 'wasm',
    worker_id: `w${Math.floor(rand() * 1000)}`,
  });
  for (const p of PROBE_NAMES) {
    const r = rand();
    if (r < 0.3) continue;
    e[p] =
      r < 0.33
        ? Number.NaN
        : r < 0.36
          ? Number.NEGATIVE_INFINITY
          : r < 0.4
            ? -0
            : r < 0.42
              ? Number.MIN_VALUE
              : (rand() - 0.5) * 1e6;
  }
  e.scalars = randomScalars(rand);
  return e;
}

/** Unknown fields, and known field numbers with another wire type, that decoders must skip. */
function unknownFields(rand: () => number): Uint8Array {
  const w = new BinaryWriter();
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const field = [10, 15, 19, 39, 99, 1000, 536_870_911, 1, 6, 20, 38][Math.floor(rand() * 11)] ?? 10;
    const type = Math.floor(rand() * 5);
    if (type === 0) w.tag(field, WireType.Varint).uint64(Math.floor(rand() * 2 ** 50));
    else if (type === 1) w.tag(field === 20 || field === 38 ? 40 : field, WireType.Bit64).fixed64(7);
    else if (type === 2) w.tag(field, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3]));
    else if (type === 3) w.tag(field, WireType.Bit32).fixed32(9);
    else w.tag(field, WireType.StartGroup).tag(2, WireType.Varint).uint32(5).tag(field, WireType.EndGroup);
  }
  return w.finish();
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function batchOf(events: Uint8Array[]): Uint8Array {
  const w = new BinaryWriter();
  for (const e of events) w.tag(1, WireType.LengthDelimited).bytes(e);
  return w.finish();
}

describe('probe messages straight into RowBinary', () => {
  it('gives the generated decoder’s rows for well-formed events, bare and batched', () => {
    const rand = lcg(7);
    for (let i = 0; i < 300; i++) {
      const trial = TRIALS[i % TRIALS.length] ?? 't1';
      const subject = eventSubject(PREFIX, 'probes', SWEEP, trial);
      const events = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => randomEvent(rand, trial));
      expect(agree(subject, ProbeEvent.encode(events[0]!).finish(), false)).toBe('probes');
      expect(agree(subject, ProbeEventBatch.encode({ events }).finish(), true)).toBe('probes');
    }
  });

  it('skips unknown fields and lets the last of a repeated field win', () => {
    const rand = lcg(11);
    for (let i = 0; i < 300; i++) {
      const trial = TRIALS[i % TRIALS.length] ?? 't1';
      const subject = eventSubject(PREFIX, 'probes', SWEEP, trial);
      const a = ProbeEvent.encode(randomEvent(rand, trial)).finish();
      const b = ProbeEvent.encode(randomEvent(rand, trial)).finish();
      const mixed = concat(unknownFields(rand), a, unknownFields(rand), b);
      agree(subject, mixed, false);
      agree(subject, concat(batchOf([mixed, a]), unknownFields(rand)), true);
    }
  });

  it('gives the generated decoder’s scalars for hand-made entries: defaults, repeats, oddities', () => {
    const subject = eventSubject(PREFIX, 'probes', SWEEP, 't1');
    const good = ProbeEvent.encode(
      ProbeEvent.fromPartial({ sweep_id: SWEEP, trial_id: 't1', loss: 1, scalars: { b: 2, a: 1 } }),
    ).finish();
    const key = (w: BinaryWriter, k: string) => w.tag(1, WireType.LengthDelimited).string(k);
    const value = (w: BinaryWriter, v: number) => w.tag(2, WireType.Bit64).double(v);
    const entries: Uint8Array[] = [
      scalarEntry((w) => value(key(w, 'perplexity'), 5)),
      scalarEntry((w) => key(w, 'no_value')), // value 0
      scalarEntry((w) => value(w, 3)), // key ""
      scalarEntry((w) => value(key(value(w, 9), 'value_first'), 8)), // last value wins
      scalarEntry((w) => value(key(key(w, 'renamed'), 'renamed_again'), 4)),
      scalarEntry((w) => value(key(w, '__proto__'), 6)), // a plain-object map cannot hold it
      scalarEntry((w) => value(key(w, 'b'), 20)), // a repeated name: the last wins
      scalarEntry((w) => value(key(w.tag(3, WireType.Varint).uint32(7), 'skipped_field'), 1)),
      scalarEntry((w) =>
        value(
          key(w.tag(5, WireType.StartGroup).tag(6, WireType.Varint).uint32(1).tag(5, WireType.EndGroup), 'g'),
          2,
        ),
      ),
      scalarEntry((w) => key(w, 'v64').tag(2, WireType.Varint).uint32(3)), // value of another wire type
      // A zero tag ends the entry early: the rest of it is read as the event's own fields.
      scalarEntry((w) => value(key(w, 'early'), 1).uint32(0).tag(4, WireType.Varint).uint32(77)),
      scalarEntry((w) => value(key(w, 'ended'), 1).tag(9, WireType.EndGroup)),
      scalarEntry((w) => value(key(w, 'loss'), 1e9)), // a probe's name: never shadows the probe
      scalarEntry((w) => value(key(w, 'inf'), Number.POSITIVE_INFINITY)),
      scalarEntry(() => undefined), // an empty entry: key "" and value 0
    ];
    for (const entry of entries) {
      expect(agree(subject, concat(good, entry), false)).toBe('probes');
      expect(agree(subject, batchOf([concat(entry, good), good]), true)).toBe('probes');
    }
    expect(agree(subject, concat(good, ...entries), false)).toBe('probes');
    // Not vacuous: the rows carry the scalars.
    const rows = new ProbeRows(1);
    decodeEventMessageInto(PREFIX, subject, concat(good, ...entries), false, rows, new AttemptFence());
    const row = readProbeRows(rows.writer.bytes())[0]!;
    expect([row['loss'], row['epoch']]).toEqual([1, 77]);
    const names = row['scalar_names'] as string[];
    const values = row['scalar_values'] as number[];
    expect(Object.fromEntries(names.map((n, i) => [n, values[i]]))).toEqual({
      a: 1,
      b: 20,
      early: 1,
      ended: 1,
      g: 2,
      no_value: 0,
      perplexity: 5,
      renamed_again: 4,
      skipped_field: 1,
      v64: 0,
      value_first: 8,
    });
    expect(names).toEqual([...names].sort());
    // Cut short and broken entries: the same poison for the same reasons.
    const poison = [
      new Uint8Array([0xc2, 0x02, 10, 10, 4, 0x61]), // key runs off the end
      new Uint8Array([0xc2, 0x02, 11, 10, 1, 0x61, 17, 1, 2, 3]), // value cut short
      new Uint8Array([0xc2, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // length varint too long
      new Uint8Array([0xc2, 0x02, 3, (3 << 3) | 6, 0, 0]), // wire type 6 inside
      new Uint8Array([0xc2, 0x02, 3, (3 << 3) | 3, 0, (3 << 3) | 4]), // illegal tag in a group
      new Uint8Array([0xc2, 0x02, 40, 10, 1, 0x61]), // longer than the message
    ];
    for (const bad of poison) {
      expect(agree(subject, concat(good, bad), false)).toBe('poison');
      agree(subject, batchOf([good, concat(good, bad)]), true);
    }
  });

  it('fences off older attempts exactly where the fence says', () => {
    const rand = lcg(3);
    const fence = new AttemptFence();
    // Attempt 2 starts at epoch 3: older attempts' events before it are kept.
    fence.observe(
      TrialEvent.fromPartial({ sweep_id: SWEEP, trial_id: 't1', attempt: 2, status: 'leased', epochs: 3 }),
    );
    const subject = eventSubject(PREFIX, 'probes', SWEEP, 't1');
    const events = Array.from({ length: 40 }, (_, i) => ({ ...randomEvent(rand, 't1'), epoch: i % 6 }));
    const want = expected(subject, ProbeEventBatch.encode({ events }).finish(), true, fence);
    expect(want.kind === 'probes' && want.fenced).toBeGreaterThan(0);
    expect(want.kind === 'probes' && want.fenced < events.filter((e) => e.attempt < 2).length).toBe(true);
    agree(subject, ProbeEventBatch.encode({ events }).finish(), true, fence);
  });

  it('calls the same messages poison for the same reasons', () => {
    const subject = eventSubject(PREFIX, 'probes', SWEEP, 't1');
    const good = ProbeEvent.fromPartial({ sweep_id: SWEEP, trial_id: 't1', time_ms: 5, loss: 1 });
    const invalid = (bytes: number[]) =>
      concat(
        new Uint8Array([10, 7, ...[...SWEEP].map((c) => c.charCodeAt(0))]),
        new Uint8Array([18, bytes.length, ...bytes]),
      );
    const cases: Array<[Uint8Array, boolean]> = [
      [new Uint8Array(0), false],
      [new Uint8Array(0), true],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), false],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), false],
      [ProbeEvent.encode({ ...good, trial_id: 't2' }).finish(), false],
      [ProbeEventBatch.encode({ events: [good, { ...good, trial_id: 't2' }] }).finish(), true],
      [ProbeEventBatch.encode({ events: [{ ...good, sweep_id: '' }, good] }).finish(), true],
      // time_ms beyond 2^53.
      [
        concat(
          ProbeEvent.encode(good).finish(),
          new Uint8Array([48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        ),
        false,
      ],
      // A probe field cut short, a string running off the end, wire types 6 and 7.
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([161, 1, 1, 2, 3])), false],
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([58, 9, 1])), false],
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([(50 << 3) | 6])), false],
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([(50 << 3) | 7])), true],
      // Groups: unbalanced end, an illegal tag inside, nesting beyond the limit.
      [
        concat(
          ProbeEvent.encode(good).finish(),
          new Uint8Array([(50 << 3) | 3, (51 << 3) | 3, (52 << 3) | 4]),
        ),
        false,
      ],
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([(50 << 3) | 3, 0, (50 << 3) | 4])), false],
      [
        concat(ProbeEvent.encode(good).finish(), new Uint8Array([...Array<number>(102).fill((50 << 3) | 3)])),
        false,
      ],
      // A zero tag or an end-group tag ends the message there; the rest is never read.
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([0, 0xff, 0xff])), false],
      [concat(ProbeEvent.encode(good).finish(), new Uint8Array([(9 << 3) | 4, 0xff])), false],
      [concat(batchOf([ProbeEvent.encode(good).finish()]), new Uint8Array([(7 << 3) | 4, 0xff])), true],
      // Different invalid UTF-8 that decodes to the same text: one trial all the same.
      [batchOf([invalid([0xff]), invalid([0xfe])]), true],
    ];
    for (const [data, batched] of cases) agree(subject, data, batched);
    agree(eventSubject(PREFIX, 'probes', SWEEP, '\uFFFD'), batchOf([invalid([0xff]), invalid([0xfe])]), true);
    agree(`${PREFIX}.elsewhere.a.b`, new Uint8Array(0), false);
    const trial = TrialEvent.fromPartial({ sweep_id: SWEEP, trial_id: 't1', status: 'running' });
    expect(agree(eventSubject(PREFIX, 'trials', SWEEP, 't1'), TrialEvent.encode(trial).finish(), false)).toBe(
      'trial',
    );
  });

  it('agrees on every truncation, on mutated bytes and on noise', () => {
    const rand = lcg(99);
    const subject = eventSubject(PREFIX, 'probes', SWEEP, 't1');
    const kinds = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const events = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => randomEvent(rand, 't1'));
      const whole = concat(ProbeEventBatch.encode({ events }).finish(), unknownFields(rand));
      for (let cut = 0; cut < whole.length; cut += 1 + Math.floor(rand() * 7)) {
        kinds.add(agree(subject, whole.subarray(0, cut), true));
        kinds.add(agree(subject, whole.subarray(2, cut), false));
      }
      for (let m = 0; m < 40; m++) {
        const mutated = new Uint8Array(whole);
        for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
          mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
        }
        kinds.add(agree(subject, mutated, true));
        kinds.add(agree(subject, mutated.subarray(2), false));
      }
      const noise = Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      kinds.add(agree(subject, noise, true));
      kinds.add(agree(subject, noise, false));
    }
    expect(kinds).toEqual(new Set(['probes', 'poison']));
  });

  it('hands the rows over grouped by trial, each trial’s messages in stream order', () => {
    const rows = new ProbeRows(4);
    const fence = new AttemptFence();
    const send = (trial: string, epochs: number[]) => {
      const events = epochs.map((epoch) =>
        ProbeEvent.fromPartial({ sweep_id: SWEEP, trial_id: trial, epoch }),
      );
      const d = decodeEventMessageInto(
        PREFIX,
        eventSubject(PREFIX, 'probes', SWEEP, trial),
        ProbeEventBatch.encode({ events }).finish(),
        true,
        rows,
        fence,
      );
      expect(d.kind).toBe('probes');
    };
    send('t2', [0, 1]);
    send('t1', [0]);
    decodeEventMessageInto(
      PREFIX,
      eventSubject(PREFIX, 'probes', SWEEP, 't0'),
      new Uint8Array([0xff]),
      false,
      rows,
      fence,
    );
    send('t2', [2]);
    send('t1', [1, 2]);
    const order = readProbeRows(rows.bytesByTrial()).map(
      (r) => `${String(r['trial_id'])}:${String(r['epoch'])}`,
    );
    expect(order).toEqual(['t1:0', 't1:1', 't1:2', 't2:0', 't2:1', 't2:2']);
    rows.clear();
    expect(rows.bytesByTrial().length).toBe(0);
  });
});
