// One leased attempt of a trial: resume from its checkpoint if the lease names one, train,
// publish each epoch's event (only while the lease is confirmed), checkpoint, and say how it
// ended as a TrialResult. The agent decides what to send.
import { TrialOutcome, type Lease, type TrialResult } from '../proto/index.js';
import { TrialConfig } from '../spec/index.js';
import type { WorkerLogger } from './agent.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ProbeSink } from './event-sink.js';
import { toProbeEvent } from './probe-event.js';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  runTrial,
  type Engine,
  type TrainingCheckpoint,
} from './training/index.js';

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
  const info = d.engine.info;
  const result: TrialResult = {
    trial_id: trial.trial_id,
    token: a.lease.token,
    outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
    epochs: 0,
    reason: '',
    log_tail: '',
    permanent: false,
    metadata: { engine: info.engine, backend: info.backend, simd: info.simd, versions: info.versions },
  };
  try {
    const config = TrialConfig.parse(JSON.parse(trial.config_json));
    d.log.info(`trial ${trial.trial_id} attempt ${a.lease.attempt}: training`);
    const ctx = { lease: a.lease, workerId: d.workerId, engine: info.engine, backend: info.backend };
    const resumeFrom = await loadCheckpoint(d, a.lease.checkpoint_ref);
    if (resumeFrom) d.log.info(`trial ${trial.trial_id}: resuming after epoch ${resumeFrom.epoch}`);
    const store = d.checkpoints;
    const out = await runTrial({
      config,
      seed: trial.seed,
      engine: d.engine,
      signal: a.abort.signal,
      resumeFrom,
      checkpointEvery: store ? (d.checkpointEvery ?? 10) : undefined,
      checkpointOnAbort: store !== undefined,
      onCheckpoint: store
        ? async (c) => {
            // Events up to this epoch leave the worker before the checkpoint is announced,
            // so a resumed attempt never leaves a gap.
            await d.sink.flush();
            const key = {
              sweepId: trial.sweep_id,
              trialId: trial.trial_id,
              attempt: a.lease.attempt,
              epoch: c.epoch,
            };
            a.checkpointRef = await store.put(key, encodeCheckpoint(c));
            a.checkpointEpochs = c.epoch + 1;
          }
        : undefined,
      onEpoch: async (rec) => {
        a.epoch = rec.epoch + 1;
        // Fencing on this side too: a worker that may have lost its lease writes nothing.
        if (!(await d.confirmLease())) return;
        await d.sink.publish(toProbeEvent(ctx, rec.epoch, rec.probes, Date.now()));
        d.onPublished?.();
        // Training is synchronous between epochs: yield a macrotask turn so heartbeats,
        // stream writes and cancellations get through on time.
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
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
    result.reason = err instanceof Error ? err.message : String(err);
    d.log.error(`trial ${trial.trial_id} failed: ${result.reason}`);
  }
  return result;
}

async function loadCheckpoint(d: AttemptDeps, ref: string): Promise<TrainingCheckpoint | undefined> {
  if (!ref) return undefined;
  if (d.checkpoints === undefined) {
    d.log.warn(`lease names checkpoint ${ref} but this worker has no checkpoint store: starting at epoch 0`);
    return undefined;
  }
  return decodeCheckpoint(await d.checkpoints.get(ref));
}
