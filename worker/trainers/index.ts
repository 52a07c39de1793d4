// Trainers: the built-in engine and command trainers behind one interface, chosen per trial.
import type { TrialConfig } from '../../spec/index.js';
import type { Engine } from '../training/index.js';
import { BuiltinTrainer } from './builtin-trainer.js';
import { CommandTrainer } from './command/command-trainer.js';
import type { Trainer } from './trainer.js';

export type { Trainer, TrainerJob, TrainerOutcome, TrainerEpoch, TrainerCheckpoint } from './trainer.js';
export { TrainerError, type TrainerFailure } from './trainer-error.js';
export { BuiltinTrainer } from './builtin-trainer.js';
export { CommandTrainer } from './command/command-trainer.js';
export { liveTrainerGroups } from './command/process-groups.js';

/** The trainer a trial's config names: `trainer: builtin` trains on this worker's engine. */
export function trainerFor(config: TrialConfig, engine: Engine, devices: readonly string[]): Trainer {
  return config.trainer === 'builtin'
    ? new BuiltinTrainer(engine)
    : new CommandTrainer(config.trainer, devices);
}
