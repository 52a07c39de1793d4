// The worker component's public surface.
export { WorkerAgent, type WorkerOptions } from './agent.js';
export {
  LeaseKeeper,
  ReconnectBackoff,
  type KeptAttempt,
  type LeaseKeeperOptions,
  type ReconnectBackoffOptions,
} from './lease-keeper.js';
export {
  chooseCudaDevices,
  describeDevices,
  detectCudaDevices,
  gpuSelectionFromEnv,
  parseGpuSelection,
  webgpuDevices,
  type Detection,
  type GpuSelection,
} from './devices.js';
export type { ProbeSink } from './event-sink.js';
export { DirCheckpointStore, NatsCheckpointStore, type CheckpointStore } from './checkpoint-store.js';
export { createEngine, type Engine } from './training/index.js';
export { createWorkerMetrics, type WorkerMetrics, type WorkerObserver } from './metrics.js';
