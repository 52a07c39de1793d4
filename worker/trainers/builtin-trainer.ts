// The built-in TensorFlow.js engine as a Trainer: runTrial with its checkpoints encoded to bytes.
// It ignores `params` and `resources`, and stops at the next epoch boundary on abort.
import type { EngineMetadata } from '../../proto/index.js';
import { decodeCheckpoint, encodeCheckpoint, runTrial, type Engine } from '../training/index.js';
import type { Trainer, TrainerJob, TrainerOutcome } from './trainer.js';

export class BuiltinTrainer implements Trainer {
  constructor(private readonly engine: Engine) {}

  metadata(): EngineMetadata {
    const { engine, backend, simd, versions } = this.engine.info;
    return { engine, backend, simd, versions };
  }

  async run(job: TrainerJob): Promise<TrainerOutcome> {
    const resumeFrom = job.resumeFrom ? decodeCheckpoint(job.resumeFrom) : undefined;
    if (resumeFrom) job.log.info(`trial ${job.trial.trial_id}: resuming after epoch ${resumeFrom.epoch}`);
    const out = await runTrial({
      config: job.config,
      seed: job.trial.seed,
      engine: this.engine,
      signal: job.signal,
      resumeFrom,
      checkpointEvery: job.checkpointEvery,
      checkpointOnAbort: job.checkpointOnAbort,
      onCheckpoint: (c) => job.onCheckpoint({ epoch: c.epoch, bytes: encodeCheckpoint(c) }),
      onEpoch: (rec) => job.onEpoch({ epoch: rec.epoch, probes: rec.probes, scalars: {} }),
    });
    return { status: out.status, epochs: out.epochs, reason: out.reason };
  }
}
