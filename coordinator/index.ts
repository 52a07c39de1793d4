// The coordinator component's public surface.
export { Coordinator, type CoordinatorOptions, type TlsOptions } from './coordinator.js';
export type { CoordinatorSinks } from './sinks.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export type { TrialRecord, TrialState } from './sweep-registry.js';
export { sweepStatus } from './status.js';
export { FileStateStore } from './file-state-store.js';
export { KvStateStore } from './kv-state-store.js';
export { memoryStateStore, type StateStore } from './state-store.js';
export { createCoordinatorMetrics, type CoordinatorMetrics } from './metrics.js';
export { ProbeSeriesStore, liveRoutes, liveSnapshot, type LiveSnapshot } from './live/index.js';
