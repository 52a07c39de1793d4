// The worker's training engine: tfjs backends, tasks, the model, AdamW and per-epoch probes.
export {
  createEngine,
  useEngine,
  ENGINE_NAMES,
  type Engine,
  type EngineInfo,
  type EngineName,
} from './engine.js';
export {
  runTrial,
  lastEpoch,
  trialFingerprint,
  type EpochRecord,
  type RunTrialOptions,
  type TrialRunResult,
  type EpochTiming,
  type ProbePart,
} from './trial.js';
export { encodeCheckpoint, decodeCheckpoint, type TrainingCheckpoint } from './checkpoint.js';
export { generateTask, type Dataset } from './tasks.js';
export { Rng, type RngState } from './rng.js';
export { computeMatrixProbes, type MatrixProbeInput } from '../probes/index.js';
