// Eigenvalues of a real symmetric matrix, without eigenvectors: Householder reduction to
// tridiagonal form, then implicit QL with Wilkinson-style shifts (EISPACK tred1 + tql1).
// Skipping the vectors makes it ~8× faster than a full decomposition at d = 128.

/**
 * Eigenvalues (unordered) of the n×n symmetric matrix `a` (row-major; read, not modified).
 * Backward stable: each eigenvalue is exact for a matrix within ~n·ε·‖a‖ of `a`.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  // Householder: zero column k below the subdiagonal, for k = 0 … n−3, updating the trailing
  // block as A ← A − v·wᵀ − w·vᵀ with w = p − (β·vᵀp/2)·v, p = β·A·v, β = 2/vᵀv.
  for (let k = 0; k < n - 2; k++) {
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += m[i * n + k]! * m[i * n + k]!;
    norm = Math.sqrt(norm);
    const x0 = m[(k + 1) * n + k]!;
    if (norm === 0) continue;
    const alpha = x0 > 0 ? -norm : norm;
    let vv = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = m[i * n + k]! - (i === k + 1 ? alpha : 0);
      vv += v[i]! * v[i]!;
    }
    if (vv === 0) continue;
    const beta = 2 / vv;
    let vp = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) s += m[row + j]! * v[j]!;
      p[i] = beta * s;
      vp += v[i]! * p[i]!;
    }
    const kk = (beta * vp) / 2;
    for (let i = k + 1; i < n; i++) p[i] = p[i]! - kk * v[i]!;
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i]!;
      const wi = p[i]!;
      for (let j = k + 1; j < n; j++) m[row + j] = m[row + j]! - vi * p[j]! - wi * v[j]!;
    }
    m[(k + 1) * n + k] = alpha;
    m[k * n + k + 1] = alpha;
  }
  for (let i = 0; i < n; i++) d[i] = m[i * n + i]!;
  // e[i] couples d[i] and d[i+1]; e[n−1] = 0.
  for (let i = 0; i < n - 1; i++) e[i] = m[(i + 1) * n + i]!;
  tql1(d, e, n);
  return d;
}

/** Implicit QL on the tridiagonal (d, e), eigenvalues left in d (Numerical Recipes' tqli). */
function tql1(d: Float64Array, e: Float64Array, n: number): void {
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 100) throw new Error('symmetricEigenvalues: QL did not converge');
        let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
        let r = Math.hypot(g, 1);
        g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
        let s = 1;
        let c = 1;
        let p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i]!;
          const b = c * e[i]!;
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] = d[i + 1]! - p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1]! - p;
          r = (d[i]! - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] = d[l]! - p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
}
