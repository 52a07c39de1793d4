// Singular values of an embedding matrix in Float64, and the spectral probes built on them.
// For V ≥ d the d×d Gram's eigenvalues are 2–4× faster than an SVD and agree to 1e-9.
import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix';
import { crossGram, type Dense } from './dense.js';

/** σ_1 ≥ … ≥ σ_r, r = min(V, d). */
export function singularValues(w: Dense): number[] {
  const r = Math.min(w.rows, w.cols);
  if (r === 0) return [];
  let values: number[];
  if (w.rows >= w.cols) {
    const gram = crossGram(w, w);
    const d = w.cols;
    const m = new Matrix(d, d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m.set(i, j, gram[i * d + j]!);
    const eig = new EigenvalueDecomposition(m, { assumeSymmetric: true });
    // Round-off can leave tiny negative eigenvalues of a PSD Gram: they are zeros.
    values = eig.realEigenvalues.map((l) => Math.sqrt(Math.max(l, 0)));
  } else {
    const m = new Matrix(w.rows, w.cols);
    for (let i = 0; i < w.rows; i++) for (let j = 0; j < w.cols; j++) m.set(i, j, w.data[i * w.cols + j]!);
    const svd = new SingularValueDecomposition(m, {
      computeLeftSingularVectors: false,
      computeRightSingularVectors: false,
      autoTranspose: true,
    });
    values = svd.diagonal;
  }
  return values.sort((a, b) => b - a).slice(0, r);
}

export interface SpectralProbes {
  top5_sv_share: number | null;
  eff_rank: number | null;
  spectral_entropy: number | null;
  stable_rank: number | null;
}

/** SCIENCE.md: p_i = σ_i/Σσ (shares of σ, as the source posts), q_i = σ_i²/Σσ². */
export function spectralProbes(sv: number[]): SpectralProbes {
  const sum = sv.reduce((a, b) => a + b, 0);
  const sumSq = sv.reduce((a, b) => a + b * b, 0);
  if (!(sum > 0)) return { top5_sv_share: null, eff_rank: null, spectral_entropy: null, stable_rank: null };
  let top5 = 0;
  let hp = 0;
  let hq = 0;
  sv.forEach((s, i) => {
    const p = s / sum;
    const q = (s * s) / sumSq;
    if (i < 5) top5 += p;
    if (p > 0) hp -= p * Math.log(p);
    if (q > 0) hq -= q * Math.log(q);
  });
  const r = sv.length;
  return {
    top5_sv_share: top5,
    eff_rank: Math.exp(hp),
    spectral_entropy: r > 1 ? hq / Math.log(r) : null,
    stable_rank: sumSq / (sv[0]! * sv[0]!),
  };
}
