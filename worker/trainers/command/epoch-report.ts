// An `epoch` frame, checked and decoded: its scalars, the matrices the probes use (little-endian,
// row-major float32/float64 in the payload) and the cluster labels. Pure; every problem is a
// ProtocolViolation naming the field.
import { PROBE_NAMES, type ProbeName } from '../../../spec/index.js';
import type { FrameHeader } from './frame-codec.js';
import { ProtocolViolation } from './protocol-violation.js';

/** Scalars with these names are shared probes; every other probe the worker computes. */
export const SCALAR_PROBES = [
  'loss',
  'train_acc',
  'val_loss',
  'val_acc',
  'grad_norm_total',
  'grad_norm',
] as const;
export type ScalarProbe = (typeof SCALAR_PROBES)[number];

/** The matrices the probes read; others are accepted and ignored. */
export const PROBE_MATRICES = [
  'embedding',
  'embedding_init',
  'embedding_grad',
  'probe_clean',
  'probe_noisy',
] as const;
export type ProbeMatrix = (typeof PROBE_MATRICES)[number];

const USER_SCALAR = /^[A-Za-z0-9_.-]{1,64}$/;
const WORKER_PROBES: ReadonlySet<string> = new Set(
  PROBE_NAMES.filter((n: ProbeName) => !(SCALAR_PROBES as readonly string[]).includes(n)),
);

export type Dtype = 'float32' | 'float64';

export interface Matrix {
  rows: number;
  cols: number;
  dtype: Dtype;
  data: Float32Array | Float64Array;
}

export interface EpochReport {
  epoch: number;
  /** Shared probe scalars as sent (null: not computed this epoch). */
  probes: Partial<Record<ScalarProbe, number | null>>;
  /** User scalars; null and non-finite values (1e999 parses as ∞) are left out. */
  scalars: Record<string, number>;
  matrices: Partial<Record<ProbeMatrix, Matrix>>;
  /** Latent cluster of each embedding row, when sent. */
  clusters: number[] | null;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks and decodes an epoch frame (whether its epoch is the one due is the conversation's job). */
export function parseEpochReport(header: FrameHeader, payload: Buffer): EpochReport {
  const epoch = header['epoch'];
  if (!isCount(epoch))
    throw new ProtocolViolation('epoch', `${JSON.stringify(epoch)} is not an epoch number`);
  const report: EpochReport = {
    epoch,
    probes: {},
    scalars: {},
    matrices: {},
    clusters: null,
  };
  readScalars(header['scalars'], report);
  readMatrices(header['matrices'], payload, report);
  const clusters = header['clusters'];
  if (clusters !== undefined && clusters !== null) {
    if (!Array.isArray(clusters) || !clusters.every((c) => typeof c === 'number' && Number.isInteger(c)))
      throw new ProtocolViolation('clusters', 'expected an array of integers');
    report.clusters = clusters as number[];
  }
  checkShapes(report);
  return report;
}

function readScalars(raw: unknown, report: EpochReport): void {
  if (!isObject(raw)) throw new ProtocolViolation('scalars', 'required: an object of name → number or null');
  for (const [name, value] of Object.entries(raw)) {
    const field = `scalars.${name}`;
    if (!USER_SCALAR.test(name))
      throw new ProtocolViolation(field, 'a name is 1–64 characters from A–Z a–z 0–9 _ . -');
    if (value !== null && typeof value !== 'number')
      throw new ProtocolViolation(field, `${JSON.stringify(value)} is not a number or null`);
    if ((SCALAR_PROBES as readonly string[]).includes(name)) {
      report.probes[name as ScalarProbe] = value !== null && Number.isFinite(value) ? value : null;
      if (name === 'loss' && value !== null && !Number.isFinite(value))
        throw new ProtocolViolation(field, 'not finite: send done with status "diverged" instead');
    } else if (WORKER_PROBES.has(name)) {
      throw new ProtocolViolation(
        field,
        'computed by the worker from the matrices; not accepted as a scalar',
      );
    } else if (value !== null && Number.isFinite(value)) {
      report.scalars[name] = value;
    }
  }
  if (typeof raw['loss'] !== 'number') throw new ProtocolViolation('scalars.loss', 'required: a number');
}

const BYTES: Record<Dtype, number> = { float32: 4, float64: 8 };

function readMatrices(raw: unknown, payload: Buffer, report: EpochReport): void {
  if (raw === undefined || raw === null) return;
  if (!Array.isArray(raw)) throw new ProtocolViolation('matrices', 'expected an array');
  const seen = new Set<string>();
  raw.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m['name'] !== 'string' || m['name'] === '')
      throw new ProtocolViolation(`matrices[${i}].name`, 'required: a string');
    const name = m['name'];
    const field = `matrices.${name}`;
    if (seen.has(name)) throw new ProtocolViolation(field, 'sent twice in one report');
    seen.add(name);
    const dtype = m['dtype'];
    if (dtype !== 'float32' && dtype !== 'float64')
      throw new ProtocolViolation(`${field}.dtype`, `${JSON.stringify(dtype)} is not "float32" or "float64"`);
    const shape = m['shape'];
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((s) => isCount(s) && s > 0))
      throw new ProtocolViolation(
        `${field}.shape`,
        `${JSON.stringify(shape)} is not [rows, cols] of positive integers`,
      );
    const [rows, cols] = shape as [number, number];
    const offset = m['offset'];
    const bytes = m['bytes'];
    if (!isCount(offset))
      throw new ProtocolViolation(`${field}.offset`, `${JSON.stringify(offset)} is not a byte offset`);
    const want = rows * cols * BYTES[dtype];
    if (bytes !== want)
      throw new ProtocolViolation(
        `${field}.bytes`,
        `${JSON.stringify(bytes)}, but ${rows} × ${cols} ${dtype} is ${want}`,
      );
    if (offset + want > payload.length)
      throw new ProtocolViolation(
        `${field}.offset`,
        `bytes ${offset}…${offset + want} lie outside the payload of ${payload.length} bytes`,
      );
    if (!(PROBE_MATRICES as readonly string[]).includes(name)) return;
    report.matrices[name as ProbeMatrix] = decodeMatrix(payload, offset, rows, cols, dtype, field);
  });
}

function decodeMatrix(
  payload: Buffer,
  offset: number,
  rows: number,
  cols: number,
  dtype: Dtype,
  field: string,
): Matrix {
  const n = rows * cols;
  const view = new DataView(payload.buffer, payload.byteOffset + offset, n * BYTES[dtype]);
  const data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = dtype === 'float32' ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
    if (!Number.isFinite(v))
      throw new ProtocolViolation(field, `non-finite value ${v} at [${Math.floor(i / cols)}, ${i % cols}]`);
    data[i] = v;
  }
  return { rows, cols, dtype, data };
}

const shapeOf = (m: Matrix): string => `[${m.rows}, ${m.cols}]`;

/** Within one report: the V × d matrices match the embedding, and probe_noisy matches probe_clean. */
function checkShapes(r: EpochReport): void {
  const { embedding, probe_clean: clean, probe_noisy: noisy } = r.matrices;
  if (embedding !== undefined) {
    for (const name of ['embedding_init', 'embedding_grad'] as const) {
      const m = r.matrices[name];
      if (m !== undefined && (m.rows !== embedding.rows || m.cols !== embedding.cols))
        throw new ProtocolViolation(
          `matrices.${name}.shape`,
          `${shapeOf(m)} differs from the embedding's ${shapeOf(embedding)}`,
        );
    }
  }
  if (clean !== undefined && noisy !== undefined && (clean.rows !== noisy.rows || clean.cols !== noisy.cols))
    throw new ProtocolViolation(
      'matrices.probe_noisy.shape',
      `${shapeOf(noisy)} differs from probe_clean's ${shapeOf(clean)}`,
    );
  const gradNorm = r.probes.grad_norm;
  if (gradNorm !== undefined && gradNorm !== null && r.matrices.embedding_grad !== undefined)
    throw new ProtocolViolation(
      'scalars.grad_norm',
      'computed from the embedding_grad matrix; send one or the other',
    );
}
