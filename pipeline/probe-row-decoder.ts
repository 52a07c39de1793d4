// Probe messages (a ProbeEvent or a ProbeEventBatch) decoded straight into ClickHouse RowBinary
// rows, without materialising ProbeEvent objects: the ingester's hot path, where the generated
// decoder and the row objects it fed cost more than everything else the ingester does.
// It accepts and rejects exactly what the generated ProbeEvent/ProbeEventBatch.decode accept
// and reject, with their error messages: the last of a repeated field wins, unknown fields and
// known ones of another wire type are skipped, a zero or end-group tag ends a message early (and
// the batch goes on reading from there), strings decode invalid UTF-8 to U+FFFD; `scalars`
// entries are decoded as ScalarsEntry messages with the same rules, the last of a name winning.
// Pure.
import { RowBinaryWriter } from './rowbinary.js';
import { scalarColumns, unixSeconds } from './rows.js';

/** Probe fields are 20–38 (wire type 1, 64-bit), in PROBE_NAMES order. */
const FIRST_PROBE_FIELD = 20;
const PROBE_COUNT = 19;
const FIRST_PROBE_TAG = (FIRST_PROBE_FIELD << 3) | 1;
const LAST_PROBE_TAG = ((FIRST_PROBE_FIELD + PROBE_COUNT - 1) << 3) | 1;
/** `map<string, double> scalars = 40`: length-delimited ScalarsEntry messages. */
const SCALARS_TAG = (40 << 3) | 2;

/** The generated decoder's text decoding: a leading U+FEFF is text, invalid bytes become U+FFFD. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Rows for one insert: their RowBinary bytes and each row's event time (for latency). */
export class ProbeRows {
  readonly writer: RowBinaryWriter;
  private times: Float64Array;
  private n = 0;
  /** Each message's rows (a byte range) and the subject it came on. */
  private readonly messages: Array<{ subject: string; start: number; end: number }> = [];
  private sorted = Buffer.allocUnsafe(0);

  constructor(expectedRows = 1024) {
    this.writer = new RowBinaryWriter(Math.max(1024, expectedRows * 256));
    this.times = new Float64Array(Math.max(16, expectedRows));
  }

  get count(): number {
    return this.n;
  }

  /** Event times (ms since the Unix epoch) of the rows, in order. */
  eventTimesMs(): Float64Array {
    return this.times.subarray(0, this.n);
  }

  addTime(timeMs: number): void {
    if (this.n === this.times.length) {
      const next = new Float64Array(this.n * 2);
      next.set(this.times);
      this.times = next;
    }
    this.times[this.n++] = timeMs;
  }

  /** Empty again, keeping the buffers. */
  clear(): void {
    this.truncate(0, 0);
    this.messages.length = 0;
  }

  /** Says that the rows written since byte `start` are those of one message on `subject`. */
  markMessage(subject: string, start: number): void {
    this.messages.push({ subject, start, end: this.writer.length });
  }

  /**
   * The RowBinary bytes with each message's rows moved into subject order, that is by trial:
   * ClickHouse sorts every insert by (sweep_id, trial_id, epoch), and rows that arrive nearly in
   * that order cost it less to sort than trials interleaved as they were published.
   */
  bytesByTrial(): Buffer {
    const all = this.writer.bytes();
    const order = [...this.messages].sort((a, b) =>
      a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0,
    );
    if (this.sorted.length < all.length) this.sorted = Buffer.allocUnsafe(all.length);
    let at = 0;
    for (const m of order) at += all.copy(this.sorted, at, m.start, m.end);
    if (at !== all.length) throw new Error('probe rows: messages do not cover the rows');
    return this.sorted.subarray(0, at);
  }

  /** Back to `rows` rows of `bytes` bytes. */
  truncate(rows: number, bytes: number): void {
    this.n = Math.min(this.n, rows);
    this.writer.truncate(bytes);
  }
}

/** What a message's ids must satisfy, and which attempts of their trial are fenced from which epoch. */
export interface IdRules {
  /** Why these ids are wrong for the message (they disagree with its subject), or undefined. */
  mismatch(sweepId: string, trialId: string): string | undefined;
  /** Events of attempts below this, at epochs from `fromEpoch` on, are not written. */
  minAttempt(sweepId: string, trialId: string): number;
  fromEpoch(sweepId: string, trialId: string): number;
}

export type ProbeRowsOutcome =
  | { ok: true; rows: number; fenced: number }
  | { ok: false; reason: 'undecodable'; error: unknown }
  | { ok: false; reason: 'empty' }
  | { ok: false; reason: 'mismatch'; message: string };

const EMPTY: Uint8Array = new Uint8Array(0);
const NO_NAMES: readonly string[] = [];
const NO_VALUES: readonly number[] = [];
const EMPTY_VIEW: DataView = new DataView(new ArrayBuffer(0));

class Decoder {
  private buf = EMPTY;
  private view = EMPTY_VIEW;
  private len = 0;
  private pos = 0;
  private out: ProbeRows = new ProbeRows(1);
  private rules: IdRules | undefined;

  // The event being decoded: string fields as (start, length) in buf, the rest as values.
  private sweepStart = 0;
  private sweepLen = 0;
  private trialStart = 0;
  private trialLen = 0;
  private attempt = 0;
  private epoch = 0;
  private seed = 0;
  private timeMs = 0;
  private engineStart = 0;
  private engineLen = 0;
  private backendStart = 0;
  private backendLen = 0;
  private workerStart = 0;
  private workerLen = 0;
  /** Where each probe's 8 bytes start in buf; -1: absent. */
  private readonly probeAt = new Int32Array(PROBE_COUNT);
  /** The event's `scalars` entries in wire order: each key as (start, length) in buf, and its value. */
  private scalarCount = 0;
  private scalarKeyAt = new Int32Array(8);
  private scalarKeyLen = new Int32Array(8);
  private scalarValue = new Float64Array(8);

  // The message so far.
  private events = 0;
  private rows = 0;
  private fenced = 0;
  private mismatch: string | undefined;
  private minAttempt = 0;
  private fenceFrom = 0;
  private firstSweepStart = 0;
  private firstSweepLen = 0;
  private firstTrialStart = 0;
  private firstTrialLen = 0;

  decode(data: Uint8Array, batched: boolean, out: ProbeRows, rules: IdRules): ProbeRowsOutcome {
    this.buf = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.len = data.length;
    this.pos = 0;
    this.out = out;
    this.rules = rules;
    this.events = 0;
    this.rows = 0;
    this.fenced = 0;
    this.mismatch = undefined;
    const rowsBefore = out.count;
    const bytesBefore = out.writer.length;
    let outcome: ProbeRowsOutcome;
    try {
      if (batched) this.batch();
      else {
        this.event(this.len);
        this.finishEvent();
      }
      if (this.events === 0) outcome = { ok: false, reason: 'empty' };
      else if (this.mismatch !== undefined)
        outcome = { ok: false, reason: 'mismatch', message: this.mismatch };
      else outcome = { ok: true, rows: this.rows, fenced: this.fenced };
    } catch (error) {
      outcome = { ok: false, reason: 'undecodable', error };
    }
    if (!outcome.ok) out.truncate(rowsBefore, bytesBefore);
    this.buf = EMPTY;
    this.view = EMPTY_VIEW;
    this.rules = undefined;
    return outcome;
  }

  private batch(): void {
    while (this.pos < this.len) {
      const tag = this.varint32();
      if (tag === 10) {
        const length = this.varint32();
        this.event(this.pos + length);
        this.finishEvent();
        continue;
      }
      if ((tag & 7) === 4 || tag === 0) return;
      this.skip(tag & 7, undefined, 100);
    }
  }

  /** One ProbeEvent ending at `end` (a field may run past it, as in the generated decoder). */
  private event(end: number): void {
    this.sweepLen = this.trialLen = this.engineLen = this.backendLen = this.workerLen = 0;
    this.attempt = this.epoch = this.seed = this.timeMs = 0;
    this.scalarCount = 0;
    this.probeAt.fill(-1);
    while (this.pos < end) {
      const tag = this.varint32();
      if (tag >= FIRST_PROBE_TAG && tag <= LAST_PROBE_TAG && (tag & 7) === 1) {
        this.probeAt[(tag >>> 3) - FIRST_PROBE_FIELD] = this.pos;
        this.pos += 8;
        if (this.pos > this.len) throw new RangeError('Offset is outside the bounds of the DataView');
        continue;
      }
      switch (tag) {
        case 10:
          this.sweepLen = this.stringLength();
          this.sweepStart = this.pos - this.sweepLen;
          continue;
        case 18:
          this.trialLen = this.stringLength();
          this.trialStart = this.pos - this.trialLen;
          continue;
        case 24:
          this.attempt = this.varint32();
          continue;
        case 32:
          this.epoch = this.varint32();
          continue;
        case 40:
          this.seed = this.varint32();
          continue;
        case 48:
          this.timeMs = this.uint64();
          continue;
        case 58:
          this.engineLen = this.stringLength();
          this.engineStart = this.pos - this.engineLen;
          continue;
        case 66:
          this.backendLen = this.stringLength();
          this.backendStart = this.pos - this.backendLen;
          continue;
        case 74:
          this.workerLen = this.stringLength();
          this.workerStart = this.pos - this.workerLen;
          continue;
        case SCALARS_TAG:
          this.scalarEntry();
          continue;
      }
      if ((tag & 7) === 4 || tag === 0) return;
      this.skip(tag & 7, undefined, 100);
    }
  }

  /**
   * One ScalarsEntry, as the generated ProbeEvent_ScalarsEntry.decode reads it: a missing key is
   * "" and a missing value 0, unknown fields are skipped, a zero or end-group tag ends the entry
   * early (the event goes on reading from there), and a field may run past the entry's end.
   */
  private scalarEntry(): void {
    const length = this.varint32();
    const end = this.pos + length;
    let keyAt = 0;
    let keyLen = 0;
    let value = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      if (tag === 10) {
        keyLen = this.stringLength();
        keyAt = this.pos - keyLen;
        continue;
      }
      if (tag === 17) {
        this.pos += 8;
        if (this.pos > this.len) throw new RangeError('Offset is outside the bounds of the DataView');
        value = this.view.getFloat64(this.pos - 8, true);
        continue;
      }
      if ((tag & 7) === 4 || tag === 0) break;
      this.skip(tag & 7, undefined, 100);
    }
    const i = this.scalarCount++;
    if (i === this.scalarKeyAt.length) {
      this.scalarKeyAt = doubled(this.scalarKeyAt, new Int32Array(2 * i));
      this.scalarKeyLen = doubled(this.scalarKeyLen, new Int32Array(2 * i));
      this.scalarValue = doubled(this.scalarValue, new Float64Array(2 * i));
    }
    this.scalarKeyAt[i] = keyAt;
    this.scalarKeyLen[i] = keyLen;
    this.scalarValue[i] = value;
  }

  /**
   * Checks the event's ids and writes its row unless its attempt is fenced off. Every event of a
   * good message has the same ids, so only the first is decoded to text; the others are compared
   * byte for byte with it, and decoded only when they differ.
   */
  private finishEvent(): void {
    const rules = this.rules!;
    if (this.events === 0) {
      const sweepId = this.text(this.sweepStart, this.sweepLen);
      const trialId = this.text(this.trialStart, this.trialLen);
      this.mismatch = rules.mismatch(sweepId, trialId);
      if (this.mismatch === undefined) {
        this.minAttempt = rules.minAttempt(sweepId, trialId);
        this.fenceFrom = rules.fromEpoch(sweepId, trialId);
      }
      this.firstSweepStart = this.sweepStart;
      this.firstSweepLen = this.sweepLen;
      this.firstTrialStart = this.trialStart;
      this.firstTrialLen = this.trialLen;
    } else if (
      !this.sameBytes(this.firstSweepStart, this.firstSweepLen, this.sweepStart, this.sweepLen) ||
      !this.sameBytes(this.firstTrialStart, this.firstTrialLen, this.trialStart, this.trialLen)
    ) {
      const bad = rules.mismatch(
        this.text(this.sweepStart, this.sweepLen),
        this.text(this.trialStart, this.trialLen),
      );
      this.mismatch ??= bad;
    }
    this.events++;
    if (this.mismatch !== undefined) return;
    if (this.attempt < this.minAttempt && this.epoch >= this.fenceFrom) {
      this.fenced++;
      return;
    }
    this.writeRow();
    this.rows++;
  }

  private writeRow(): void {
    const w = this.out.writer;
    this.string(w, this.sweepStart, this.sweepLen);
    this.string(w, this.trialStart, this.trialLen);
    w.uint32(this.attempt);
    w.uint32(this.epoch);
    w.uint32(this.seed);
    w.uint32(unixSeconds(this.timeMs));
    w.uint64(this.timeMs);
    this.string(w, this.engineStart, this.engineLen);
    this.string(w, this.backendStart, this.backendLen);
    this.string(w, this.workerStart, this.workerLen);
    w.nullableFloat64sAt(this.view, this.probeAt);
    if (this.scalarCount === 0) w.scalars(NO_NAMES, NO_VALUES);
    else {
      const s = scalarColumns(this.scalarEntries());
      w.scalars(s.names, s.values);
    }
    this.out.addTime(this.timeMs);
  }

  /** The event's scalars as (name, value), names decoded as the generated code decodes them. */
  private *scalarEntries(): Generator<[string, number]> {
    for (let i = 0; i < this.scalarCount; i++) {
      yield [this.text(this.scalarKeyAt[i]!, this.scalarKeyLen[i]!), this.scalarValue[i]!];
    }
  }

  /** ASCII is copied as it is; anything else goes through the same text decoding as the generated code. */
  private string(w: RowBinaryWriter, start: number, len: number): void {
    const buf = this.buf;
    for (let i = start; i < start + len; i++) {
      if (buf[i]! > 0x7f) {
        w.string(this.text(start, len));
        return;
      }
    }
    w.utf8Bytes(buf, start, len);
  }

  private text(start: number, len: number): string {
    return utf8.decode(this.buf.subarray(start, start + len));
  }

  private sameBytes(a: number, aLen: number, b: number, bLen: number): boolean {
    if (aLen !== bLen) return false;
    const buf = this.buf;
    for (let i = 0; i < aLen; i++) if (buf[a + i] !== buf[b + i]) return false;
    return true;
  }

  // ---- Wire primitives, each as the generated code's BinaryReader has it ----

  /** A byte past the end reads as 0: every read that gets one is followed by a bounds check. */
  private byte(i: number): number {
    return i < this.len ? this.buf[i]! : 0;
  }

  private assertBounds(): void {
    if (this.pos > this.len) throw new RangeError('premature EOF');
  }

  private varint32(): number {
    let b = this.byte(this.pos++);
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return b;
    }
    let result = b & 0x7f;
    b = this.byte(this.pos++);
    result |= (b & 0x7f) << 7;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = this.byte(this.pos++);
    result |= (b & 0x7f) << 14;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = this.byte(this.pos++);
    result |= (b & 0x7f) << 21;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = this.byte(this.pos++);
    result |= (b & 0x0f) << 28;
    for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = this.byte(this.pos++);
    if ((b & 0x80) !== 0) throw new Error('invalid varint');
    this.assertBounds();
    return result >>> 0;
  }

  /** A uint64 as a number; beyond 2^53 - 1 it is an error, as in the generated longToNumber. */
  private uint64(): number {
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    let done = false;
    for (let shift = 0; shift < 28 && !done; shift += 7) {
      const b = this.byte(pos++);
      lo |= (b & 0x7f) << shift;
      done = (b & 0x80) === 0;
    }
    if (!done) {
      const middle = this.byte(pos++);
      lo |= (middle & 0x0f) << 28;
      hi = (middle & 0x70) >> 4;
      done = (middle & 0x80) === 0;
      for (let shift = 3; shift <= 31 && !done; shift += 7) {
        const b = this.byte(pos++);
        hi |= (b & 0x7f) << shift;
        done = (b & 0x80) === 0;
      }
      if (!done) throw new Error('invalid varint');
    }
    this.pos = pos;
    this.assertBounds();
    const value = (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
    if (value > Number.MAX_SAFE_INTEGER) throw new Error('Value is larger than Number.MAX_SAFE_INTEGER');
    return value;
  }

  /** Skips a string's bytes and returns their length. */
  private stringLength(): number {
    const len = this.varint32();
    this.pos += len;
    this.assertBounds();
    return len;
  }

  private skip(wireType: number, fieldNo: number | undefined, recursionLimit: number): void {
    switch (wireType) {
      case 0:
        while ((this.byte(this.pos++) & 0x80) !== 0) {
          // continuation bytes
        }
        break;
      case 1:
        this.pos += 8;
        break;
      case 5:
        this.pos += 4;
        break;
      case 2: {
        const len = this.varint32();
        this.pos += len;
        break;
      }
      case 3:
        if (recursionLimit <= 0) throw new Error('maximum recursion depth reached');
        for (;;) {
          const start = this.pos;
          const tag = this.varint32();
          const read = this.pos - start;
          if (read > 5 || (read === 5 && this.buf[this.pos - 1]! > 0x0f)) {
            throw new Error('illegal tag: varint overflows uint32');
          }
          const fn = tag >>> 3;
          const wt = tag & 7;
          if (fn <= 0 || wt > 5) throw new Error(`illegal tag: field no ${fn} wire type ${wt}`);
          if (wt === 4) {
            if (fieldNo !== undefined && fn !== fieldNo) throw new Error('invalid end group tag');
            break;
          }
          this.skip(wt, fn, recursionLimit - 1);
        }
        break;
      default:
        throw new Error(`cant skip wire type ${wireType}`);
    }
    this.assertBounds();
  }
}

function doubled<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

const decoder = new Decoder();

/**
 * Appends the rows of one probe message (`batched`: a ProbeEventBatch, else one ProbeEvent) to
 * `out`, leaving out the events of fenced-off attempts. A message that is not good as a whole
 * (undecodable, empty, or with ids the rules reject) appends nothing.
 */
export function decodeProbeRows(
  data: Uint8Array,
  batched: boolean,
  out: ProbeRows,
  rules: IdRules,
): ProbeRowsOutcome {
  return decoder.decode(data, batched, out, rules);
}
