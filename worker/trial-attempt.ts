// One leased attempt of a trial: resume from its checkpoint if the lease names one, train with
// the trainer its config names (built-in engine or command), publish each epoch's event (only
// while the lease is confirmed), checkpoint, and say how it ended as a TrialResult. The agent
// decides what to send.
import { TrialOutcome, type Lease, type TrialResult } from '../proto/index.js';
import { errorMessage, TrialConfig } from '../spec/index.js';
import type { WorkerLogger } from './agent.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ProbeSink } from './event-sink.js';
import { toProbeEvent } from './probe-event.js';
import type { Engine } from './training/index.js';
import { TrainerError, trainerFor, type Trainer } from './trainers/index.js';

export interface Attempt {
  lease: Lease;
  /** Epochs done, reported in heartbeats. */
  epoch: number;
  /** The latest checkpoint written, reported in heartbeats. */
  checkpointRef: string;
  /** Epochs that checkpoint covers. */
  checkpointEpochs: number;
  /** Devices the coordinator set aside for this attempt ("cuda:0"); empty: CPU. */
  devices: string[];
  abort: AbortController;
}

export interface AttemptDeps {
  engine: Engine;
  sink: ProbeSink;
  workerId: string;
  log: WorkerLogger;
  checkpoints?: CheckpointStore;
  checkpointEvery?: number;
  /** Resolves false when the lease may no longer be ours: the event is then not published. */
  confirmLease: () => Promise<boolean>;
  onPublished?: () => void;
}

/** Runs the attempt; an aborted one comes back as RELEASED (the caller knows why it stopped). */
export async function runAttempt(d: AttemptDeps, a: Attempt): Promise<TrialResult> {
  const trial = a.lease.trial!;
  const result: TrialResult = {
    trial_id: trial.trial_id,
    token: a.lease.token,
    outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
    epochs: 0,
    reason: '',
    log_tail: '',
    permanent: false,
  };
  let trainer: Trainer | undefined;
  try {
    const config = TrialConfig.parse(JSON.parse(trial.config_json));
    const t = trainerFor(config, d.engine, a.devices);
    trainer = t;
    d.log.info(
      `trial ${trial.trial_id} attempt ${a.lease.attempt}: training (${config.trainer === 'builtin' ? 'built-in engine' : 'command trainer'})`,
    );
    const store = d.checkpoints;
    const out = await t.run({
      trial,
      attempt: a.lease.attempt,
      config,
      devices: a.devices,
      signal: a.abort.signal,
      log: d.log,
      resumeFrom: await loadCheckpoint(d, a.lease.checkpoint_ref),
      checkpointEvery: store ? (d.checkpointEvery ?? 10) : undefined,
      checkpointOnAbort: store !== undefined,
      onCheckpoint: async (c) => {
        if (store === undefined) return;
        // Events up to this epoch leave the worker before the checkpoint is announced,
        // so a resumed attempt never leaves a gap.
        await d.sink.flush();
        const key = {
          sweepId: trial.sweep_id,
          trialId: trial.trial_id,
          attempt: a.lease.attempt,
          epoch: c.epoch,
        };
        a.checkpointRef = await store.put(key, c.bytes);
        a.checkpointEpochs = c.epoch + 1;
      },
      onEpoch: async (rec) => {
        a.epoch = rec.epoch + 1;
        // Fencing on this side too: a worker that may have lost its lease writes nothing.
        if (!(await d.confirmLease())) return;
        const { engine, backend } = t.metadata();
        const ctx = { lease: a.lease, workerId: d.workerId, engine, backend };
        await d.sink.publish(toProbeEvent(ctx, rec.epoch, rec.probes, Date.now(), rec.scalars));
        d.onPublished?.();
        // The built-in engine trains synchronously between epochs: yield a macrotask turn so
        // heartbeats, stream writes and cancellations get through on time.
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
      // After an abort the lease is still ours only for a shutdown, which hands the trial over.
      handOver: () => d.confirmLease(),
    });
    await d.sink.flush();
    result.epochs = out.epochs;
    result.reason = out.reason ?? '';
    result.outcome =
      out.status === 'completed'
        ? TrialOutcome.TRIAL_OUTCOME_COMPLETED
        : out.status === 'diverged'
          ? TrialOutcome.TRIAL_OUTCOME_DIVERGED
          : TrialOutcome.TRIAL_OUTCOME_RELEASED;
  } catch (err) {
    await d.sink.flush().catch(() => undefined);
    result.reason = errorMessage(err);
    if (err instanceof TrainerError) {
      result.log_tail = err.logTail;
      result.permanent = err.permanent;
    }
    d.log.error(`trial ${trial.trial_id} failed${result.permanent ? ' for good' : ''}: ${result.reason}`);
  }
  const { engine, backend, simd, versions } = d.engine.info;
  result.metadata = trainer?.metadata() ?? { engine, backend, simd, versions };
  return result;
}

async function loadCheckpoint(d: AttemptDeps, ref: string): Promise<Uint8Array | undefined> {
  if (!ref) return undefined;
  if (d.checkpoints === undefined) {
    d.log.warn(`lease names checkpoint ${ref} but this worker has no checkpoint store: starting at epoch 0`);
    return undefined;
  }
  return d.checkpoints.get(ref);
}
