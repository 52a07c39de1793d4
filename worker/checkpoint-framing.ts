// The framing both checkpoint formats share (the built-in engine's and a command trainer's
// envelope): little-endian uint32 magic, version and JSON header length, the UTF-8 header, then
// the format's own binary body. Pure.
import { PhasesweepError } from '../spec/index.js';

export interface FramedFormat {
  magic: number;
  version: number;
  /** What the bytes should have been, for errors ("not a valid training checkpoint: …"). */
  what: string;
  /** The body starts at a multiple of this (4: float32 blobs read in place). */
  align: number;
}

export function corruptCheckpoint(f: FramedFormat, why: string): PhasesweepError {
  return new PhasesweepError('INVALID_ARGUMENT', `not ${f.what}: ${why}`);
}

/** A buffer holding the framed header, with room for `bodyBytes` after it. */
export function writeFramed(
  f: FramedFormat,
  header: unknown,
  bodyBytes: number,
): { out: Uint8Array; view: DataView; bodyStart: number } {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bodyStart = Math.ceil((12 + json.length) / f.align) * f.align;
  const out = new Uint8Array(bodyStart + bodyBytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, f.magic, true);
  view.setUint32(4, f.version, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  return { out, view, bodyStart };
}

/** The header and where the body starts; throws naming the format when the frame is broken. */
export function readFramed<H>(
  f: FramedFormat,
  bytes: Uint8Array,
): { header: H; view: DataView; bodyStart: number } {
  if (bytes.length < 12) throw corruptCheckpoint(f, 'too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== f.magic) throw corruptCheckpoint(f, 'bad magic');
  if (view.getUint32(4, true) !== f.version)
    throw corruptCheckpoint(f, `unsupported version ${view.getUint32(4, true)}`);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) throw corruptCheckpoint(f, 'truncated header');
  let header: H;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as H;
  } catch (err) {
    throw corruptCheckpoint(f, `header: ${(err as Error).message}`);
  }
  return { header, view, bodyStart: Math.ceil((12 + len) / f.align) * f.align };
}
