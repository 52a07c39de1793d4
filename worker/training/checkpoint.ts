// Trial checkpoints: weights, Adam moments and PRNG states, enough to continue a run
// bit-identically. Binary: magic, version, JSON header, then little-endian float32 blobs.
import { PhasesweepError } from '../../spec/index.js';
import type { AdamWState } from './adamw.js';
import type { RngState } from './rng.js';

export interface TrainingCheckpoint {
  /** The last completed epoch: a resumed run starts at epoch + 1. */
  epoch: number;
  /** Hash of task, model and seed: a checkpoint only resumes the trial it came from. */
  fingerprint: string;
  names: string[];
  shapes: number[][];
  params: Float32Array[];
  adam: AdamWState;
  rng: { noise: RngState; order: RngState };
}

const MAGIC = 0x4b435350; // "PSCK" read as little-endian uint32
const VERSION = 1;

interface Header {
  epoch: number;
  fingerprint: string;
  names: string[];
  shapes: number[][];
  step: number;
  rng: { noise: RngState; order: RngState };
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function encodeCheckpoint(c: TrainingCheckpoint): Uint8Array {
  const header: Header = {
    epoch: c.epoch,
    fingerprint: c.fingerprint,
    names: c.names,
    shapes: c.shapes,
    step: c.adam.step,
    rng: c.rng,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerEnd = 12 + json.length;
  const dataStart = Math.ceil(headerEnd / 4) * 4;
  const blobs = [...c.params, ...c.adam.m, ...c.adam.v];
  const floats = blobs.reduce((n, b) => n + b.length, 0);
  const out = new Uint8Array(dataStart + floats * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let off = dataStart;
  for (const blob of blobs) {
    for (let i = 0; i < blob.length; i++) view.setFloat32(off + 4 * i, blob[i]!, true);
    off += blob.length * 4;
  }
  return out;
}

function corrupt(why: string): PhasesweepError {
  return new PhasesweepError('INVALID_ARGUMENT', `not a valid training checkpoint: ${why}`);
}

export function decodeCheckpoint(bytes: Uint8Array): TrainingCheckpoint {
  if (bytes.length < 12) throw corrupt('too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw corrupt('bad magic');
  if (view.getUint32(4, true) !== VERSION) throw corrupt(`unsupported version ${view.getUint32(4, true)}`);
  const len = view.getUint32(8, true);
  if (12 + len > bytes.length) throw corrupt('truncated header');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + len))) as Header;
  } catch (err) {
    throw corrupt(`header: ${(err as Error).message}`);
  }
  let off = Math.ceil((12 + len) / 4) * 4;
  const read = (n: number): Float32Array => {
    if (off + n * 4 > bytes.length) throw corrupt('truncated data');
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(off + 4 * i, true);
    off += n * 4;
    return out;
  };
  const params = header.shapes.map((s) => read(size(s)));
  const m = header.shapes.map((s) => read(size(s)));
  const v = header.shapes.map((s) => read(size(s)));
  if (off !== bytes.length) throw corrupt('trailing bytes');
  return {
    epoch: header.epoch,
    fingerprint: header.fingerprint,
    names: header.names,
    shapes: header.shapes,
    params,
    adam: { step: header.step, m, v },
    rng: header.rng,
  };
}
