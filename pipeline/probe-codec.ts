// A ProbeEvent encoder that produces the same bytes as the generated ProbeEvent.encode (fields
// in number order, proto3 defaults omitted, map entries in the object's key order) at a
// fraction of its cost: the publisher encodes every event a worker emits, on the training
// process's thread. Pure.
import type { ProbeEvent } from '../proto/index.js';
import { PROBE_NAMES, type ProbeName } from '../spec/probes.js';

/** Probe field numbers in proto/phasesweep/v1/phasesweep.proto, in order. */
const PROBE_FIELDS: ReadonlyArray<readonly [ProbeName, number]> = [
  ['loss', 20],
  ['train_acc', 21],
  ['val_loss', 22],
  ['val_acc', 23],
  ['grad_norm', 24],
  ['grad_norm_total', 25],
  ['emb_norm', 26],
  ['drift', 27],
  ['rel_drift', 28],
  ['stability', 29],
  ['mean_pairwise_cos', 30],
  ['top5_sv_share', 31],
  ['eff_rank', 32],
  ['spectral_entropy', 33],
  ['stable_rank', 34],
  ['grad_drift_ratio', 35],
  ['cka_prev', 36],
  ['noise_sensitivity', 37],
  ['cluster_purity', 38],
];

if (PROBE_FIELDS.some(([name], i) => PROBE_NAMES[i] !== name)) {
  throw new Error('probe-codec: PROBE_FIELDS is out of step with PROBE_NAMES');
}

// Wire type 1 (64-bit) tags of fields 20–38 need two varint bytes, packed here as one number.
const PROBE_TAGS = PROBE_FIELDS.map(([, field]) => {
  const tag = (field << 3) | 1;
  return (tag & 0x7f) | 0x80 | ((tag >> 7) << 8);
});

/** Where an event is written: a buffer that grows as needed, and the end of what is in it. */
export interface ByteSink {
  buf: Buffer;
  end: number;
}

// The sink being written, unpacked into module variables for the duration of one call.
const NONE: Buffer = Buffer.alloc(0);
let scratch = NONE;
let off = 0;

function ensure(n: number): void {
  if (off + n <= scratch.length) return;
  const next = Buffer.allocUnsafe(Math.max(scratch.length * 2, off + n));
  scratch.copy(next, 0, 0, off);
  scratch = next;
}

function varint(n: number): void {
  ensure(10);
  let v = n;
  while (v >= 0x80) {
    // `&` keeps the low 7 bits of any integer below 2^53; `>>>` only works below 2^32.
    scratch[off++] = (v & 0x7f) | 0x80;
    v = v > 0xffff_ffff ? Math.floor(v / 128) : v >>> 7;
  }
  scratch[off++] = v;
}

function stringField(tag: number, s: string): void {
  if (s === '') return;
  const len = s.length;
  ensure(1 + 5 + len * 3);
  scratch[off++] = tag;
  if (len < 128) {
    // Ids and names are short ASCII: copied char by char, which beats a native call per string.
    const at = off + 1;
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[at + i] = c;
    }
    if (i === len) {
      scratch[off] = len;
      off = at + len;
      return;
    }
  }
  if (len < 43) {
    // At most 127 UTF-8 bytes: the length fits one byte, so write the text straight after it.
    const n = scratch.write(s, off + 1, 'utf8');
    scratch[off] = n;
    off += 1 + n;
    return;
  }
  const n = Buffer.byteLength(s, 'utf8');
  varint(n);
  ensure(n);
  off += scratch.write(s, off, 'utf8');
}

function uintField(tag: number, v: number): void {
  if (v === 0) return;
  ensure(1);
  scratch[off++] = tag;
  varint(v);
}

// A double's little-endian bytes, read through a one-element array (cheaper than writeDoubleLE,
// which checks its arguments on every call).
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('probe-codec: expects a little-endian platform');
}

/** Space is ensured by the caller. */
function double(tag: number | undefined, v: number | undefined): void {
  if (v === undefined || tag === undefined) return;
  const buf = scratch;
  let o = off;
  buf[o++] = tag & 0xff;
  buf[o++] = tag >> 8;
  float[0] = v;
  for (let i = 0; i < 8; i++) buf[o++] = floatBytes[i]!;
  off = o;
}

/**
 * One `scalars` entry (field 40, a ScalarsEntry message: key = 1, value = 2, each left out when
 * it is the default, as the generated encoder does). Its length is written in one byte and the
 * entry moved when it turns out longer, which takes a key of more than a hundred bytes.
 */
function scalarEntry(key: string, value: number): void {
  ensure(3);
  scratch[off++] = 0xc2; // (40 << 3) | 2 as a varint
  scratch[off++] = 0x02;
  const lenAt = off++;
  stringField(10, key);
  if (value !== 0) {
    ensure(9);
    scratch[off++] = 17;
    float[0] = value;
    for (let i = 0; i < 8; i++) scratch[off++] = floatBytes[i]!;
  }
  const len = off - lenAt - 1;
  if (len < 0x80) {
    scratch[lenAt] = len;
    return;
  }
  let extra = 0;
  for (let v = len; v >= 0x80; v >>>= 7) extra++;
  ensure(extra);
  scratch.copyWithin(lenAt + 1 + extra, lenAt + 1, off);
  off += extra;
  let o = lenAt;
  let v = len;
  while (v >= 0x80) {
    scratch[o++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  scratch[o] = v;
}

/** Appends the encoding of `e` to `sink`. */
export function writeProbeEvent(e: ProbeEvent, sink: ByteSink): void {
  scratch = sink.buf;
  off = sink.end;
  stringField(10, e.sweep_id);
  stringField(18, e.trial_id);
  uintField(24, e.attempt);
  uintField(32, e.epoch);
  uintField(40, e.seed);
  uintField(48, e.time_ms);
  stringField(58, e.engine);
  stringField(66, e.backend);
  stringField(74, e.worker_id);
  // Unrolled: a loop over names reads the event by a variable key, which is several times slower.
  ensure(19 * 10);
  double(PROBE_TAGS[0], e.loss);
  double(PROBE_TAGS[1], e.train_acc);
  double(PROBE_TAGS[2], e.val_loss);
  double(PROBE_TAGS[3], e.val_acc);
  double(PROBE_TAGS[4], e.grad_norm);
  double(PROBE_TAGS[5], e.grad_norm_total);
  double(PROBE_TAGS[6], e.emb_norm);
  double(PROBE_TAGS[7], e.drift);
  double(PROBE_TAGS[8], e.rel_drift);
  double(PROBE_TAGS[9], e.stability);
  double(PROBE_TAGS[10], e.mean_pairwise_cos);
  double(PROBE_TAGS[11], e.top5_sv_share);
  double(PROBE_TAGS[12], e.eff_rank);
  double(PROBE_TAGS[13], e.spectral_entropy);
  double(PROBE_TAGS[14], e.stable_rank);
  double(PROBE_TAGS[15], e.grad_drift_ratio);
  double(PROBE_TAGS[16], e.cka_prev);
  double(PROBE_TAGS[17], e.noise_sensitivity);
  double(PROBE_TAGS[18], e.cluster_purity);
  // Object.keys is the generated encoder's order (Object.entries); an empty map writes nothing.
  const scalars = e.scalars;
  for (const key in scalars) if (Object.hasOwn(scalars, key)) scalarEntry(key, scalars[key]!);
  sink.buf = scratch;
  sink.end = off;
  scratch = NONE;
}
