// Trial checkpoints: weights, Adam moments and PRNG states, enough to continue a run
// bit-identically. Binary: magic, version, JSON header, then little-endian float32 blobs.
import { corruptCheckpoint, readFramed, writeFramed, type FramedFormat } from '../checkpoint-framing.js';
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

const FORMAT: FramedFormat = {
  magic: 0x4b435350, // "PSCK" read as little-endian uint32
  version: 1,
  what: 'a valid training checkpoint',
  align: 4,
};

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
  const blobs = [...c.params, ...c.adam.m, ...c.adam.v];
  const floats = blobs.reduce((n, b) => n + b.length, 0);
  const { out, view, bodyStart } = writeFramed(FORMAT, header, floats * 4);
  let off = bodyStart;
  for (const blob of blobs) {
    for (let i = 0; i < blob.length; i++) view.setFloat32(off + 4 * i, blob[i]!, true);
    off += blob.length * 4;
  }
  return out;
}

const corrupt = (why: string) => corruptCheckpoint(FORMAT, why);

export function decodeCheckpoint(bytes: Uint8Array): TrainingCheckpoint {
  const { header, view, bodyStart } = readFramed<Header>(FORMAT, bytes);
  let off = bodyStart;
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
