// The checkpoint a worker stores for a command trainer: the trainer's own bytes, untouched, and
// the probe state (W_prev as received, clusters, shapes) that lets a resumed attempt compute the
// same probes as an uninterrupted one. Binary: magic, version, JSON header, W_prev, the bytes.
import { corruptCheckpoint, readFramed, writeFramed, type FramedFormat } from '../../checkpoint-framing.js';
import type { Dtype, Matrix } from './epoch-report.js';
import type { ProbeState } from './probe-tracker.js';

export interface CommandCheckpoint {
  /** The last epoch the checkpoint covers: a resumed attempt starts at epoch + 1. */
  epoch: number;
  /** The trainer's checkpoint, as it sent it. */
  trainer: Uint8Array;
  probes: ProbeState;
}

const FORMAT: FramedFormat = {
  magic: 0x54435350, // "PSCT" read as little-endian uint32
  version: 1,
  what: 'a command-trainer checkpoint',
  align: 1,
};

interface Header {
  epoch: number;
  trainer_bytes: number;
  w_prev: { dtype: Dtype; rows: number; cols: number } | null;
  clusters: number[] | null;
  shapes: ProbeState['shapes'];
}

const WIDTH: Record<Dtype, number> = { float32: 4, float64: 8 };

export function encodeCommandCheckpoint(c: CommandCheckpoint): Uint8Array {
  const w = c.probes.wPrev;
  const header: Header = {
    epoch: c.epoch,
    trainer_bytes: c.trainer.length,
    w_prev: w === null ? null : { dtype: w.dtype, rows: w.rows, cols: w.cols },
    clusters: c.probes.clusters,
    shapes: c.probes.shapes,
  };
  const wBytes = w === null ? 0 : w.data.length * WIDTH[w.dtype];
  const { out, view, bodyStart } = writeFramed(FORMAT, header, wBytes + c.trainer.length);
  let off = bodyStart;
  if (w !== null) {
    for (let i = 0; i < w.data.length; i++) {
      if (w.dtype === 'float32') view.setFloat32(off + 4 * i, w.data[i]!, true);
      else view.setFloat64(off + 8 * i, w.data[i]!, true);
    }
    off += wBytes;
  }
  out.set(c.trainer, off);
  return out;
}

const corrupt = (why: string) => corruptCheckpoint(FORMAT, why);

export function decodeCommandCheckpoint(bytes: Uint8Array): CommandCheckpoint {
  const { header, view, bodyStart } = readFramed<Header>(FORMAT, bytes);
  let off = bodyStart;
  let wPrev: Matrix | null = null;
  if (header.w_prev !== null) {
    const { dtype, rows, cols } = header.w_prev;
    const n = rows * cols;
    if (off + n * WIDTH[dtype] > bytes.length) throw corrupt('truncated W_prev');
    const data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++)
      data[i] = dtype === 'float32' ? view.getFloat32(off + 4 * i, true) : view.getFloat64(off + 8 * i, true);
    off += n * WIDTH[dtype];
    wPrev = { dtype, rows, cols, data };
  }
  if (off + header.trainer_bytes !== bytes.length) throw corrupt('trainer bytes do not fill the rest');
  return {
    epoch: header.epoch,
    trainer: bytes.slice(off),
    probes: { wPrev, clusters: header.clusters, shapes: header.shapes },
  };
}
