// Singular values of an embedding matrix in Float64, and the spectral probes built on them.
// For V ≥ d the eigenvalues of the d×d Gram (no eigenvectors) are far cheaper than an SVD and agree to 1e-9.
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { crossGram, type Dense } from './dense.js';
import { symmetricEigenvalues } from './eigen.js';

/** σ_1 ≥ … ≥ σ_r, r = min(V, d). */
export function singularValues(w: Dense): number[] {
  const r = Math.min(w.rows, w.cols);
  if (r === 0) return [];
  let values: number[];
  if (w.rows >= w.cols) {
    // Round-off can leave tiny negative eigenvalues of a PSD Gram: they are zeros.
    values = Array.from(symmetricEigenvalues(crossGram(w, w), w.cols), (l) => Math.sqrt(Math.max(l, 0)));
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
