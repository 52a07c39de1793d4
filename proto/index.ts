// The wire vocabulary shared by every process: generated from proto/phasesweep/v1 by ts-proto.
export * from './gen/phasesweep/v1/phasesweep.js';
