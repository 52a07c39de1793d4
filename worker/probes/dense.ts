// Row-major Float64 matrices for the probe math: V×d embeddings, their Grams and norms.
// Plain loops, no allocation in inner loops: these run every epoch on up to 4096×256.
import { allDots } from './simd-dots.js';

export interface Dense {
  rows: number;
  cols: number;
  data: Float64Array;
}

export type MatrixLike = number[][] | Float64Array | Float32Array | Dense;

/** Normalises any accepted matrix form; flat arrays need `cols`. */
export function toDense(m: MatrixLike, cols?: number): Dense {
  if (Array.isArray(m)) {
    const rows = m.length;
    const c = rows > 0 ? m[0]!.length : (cols ?? 0);
    const data = new Float64Array(rows * c);
    m.forEach((row, i) => {
      if (row.length !== c) throw new RangeError(`row ${i} has ${row.length} columns, expected ${c}`);
      data.set(row, i * c);
    });
    return { rows, cols: c, data };
  }
  if (m instanceof Float64Array || m instanceof Float32Array) {
    if (!cols || m.length % cols !== 0) throw new RangeError(`flat matrix of length ${m.length} needs cols`);
    return { rows: m.length / cols, cols, data: m instanceof Float64Array ? m : Float64Array.from(m) };
  }
  return m;
}

export function frobenius(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const t = a[i]! - b[i]!;
    s += t * t;
  }
  return Math.sqrt(s);
}

/** The columns of a row-major matrix as contiguous runs (its transpose, row-major). */
function columnsOf(a: Dense): Float64Array {
  const { rows, cols } = a;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j * rows + r] = a.data[r * cols + j]!;
  return out;
}

/**
 * Aᵀ·B (cols×cols) for two matrices with the same shape: dot products of their contiguous
 * columns. AᵀA is computed once per pair and mirrored, so it is exactly symmetric.
 */
export function crossGram(a: Dense, b: Dense): Float64Array {
  const at = columnsOf(a);
  if (a !== b) return allDots(at, a.cols, columnsOf(b), b.cols, a.rows);
  const { cols } = a;
  const out = allDots(at, cols, at, cols, a.rows, 0);
  for (let j = 1; j < cols; j++) for (let k = 0; k < j; k++) out[j * cols + k] = out[k * cols + j]!;
  return out;
}

/** The matrix with each column's mean removed. */
export function centreColumns(a: Dense): Dense {
  const { rows, cols } = a;
  const mean = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) mean[j] = mean[j]! + a.data[r * cols + j]!;
  for (let j = 0; j < cols; j++) mean[j] = mean[j]! / rows;
  const data = new Float64Array(a.data.length);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) data[r * cols + j] = a.data[r * cols + j]! - mean[j]!;
  return { rows, cols, data };
}

/** Rows scaled to unit length; zero rows stay zero and are reported as such. */
export function unitRows(a: Dense): { units: Float64Array; nonZero: Uint8Array } {
  const { rows, cols } = a;
  const units = new Float64Array(a.data.length);
  const nonZero = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += a.data[r * cols + j]! ** 2;
    if (s === 0) continue;
    nonZero[r] = 1;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < cols; j++) units[r * cols + j] = a.data[r * cols + j]! * inv;
  }
  return { units, nonZero };
}
