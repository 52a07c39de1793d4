// Probe math on embedding matrices: pure Float64 functions, no tfjs, no I/O.
export {
  computeMatrixProbes,
  meanPairwiseCos,
  linearCka,
  clusterPurity,
  type MatrixProbeInput,
  type MatrixProbeMemo,
  type MatrixProbeResult,
} from './matrix-probes.js';
export { singularValues, spectralProbes, type SpectralProbes } from './spectrum.js';
export { toDense, frobenius, type Dense, type MatrixLike } from './dense.js';
export { noiseSensitivityOf } from './noise-sensitivity.js';
