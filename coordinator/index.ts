// The coordinator component's public surface.
export { Coordinator, type CoordinatorOptions } from './coordinator.js';
export type { CoordinatorSinks } from './sinks.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export type { TrialRecord, TrialState } from './sweep-registry.js';
export { sweepStatus } from './status.js';
