// Probe math on embedding matrices: pure Float64 functions, no tfjs, no I/O.
export {
  computeMatrixProbes,
  computeMatrixProbesDetailed,
  meanPairwiseCos,
  linearCka,
  clusterPurity,
  type MatrixProbeInput,
  type MatrixProbeResult,
} from './matrix-probes.js';
export { singularValues, spectralProbes, type SpectralProbes } from './spectrum.js';
export { toDense, type Dense, type MatrixLike } from './dense.js';
