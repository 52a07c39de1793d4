// Shared, pure vocabulary: sweep specs, trial configs, probe names and errors.
export * from './errors.js';
export * from './trial-config.js';
export * from './sweep-spec.js';
export * from './expand.js';
export * from './probes.js';
export * from './plan.js';
export * from './sampling.js';
