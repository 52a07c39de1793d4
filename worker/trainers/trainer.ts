// What trains a trial: the built-in engine or a command trainer, behind one interface. A trainer
// trains and computes probes; the attempt around it (worker/trial-attempt.ts) publishes the
// events, fences them by the lease, stores the checkpoints and builds the TrialResult.
import type { EngineMetadata, TrialAssignment } from '../../proto/index.js';
import type { ProbeValues, TrialConfig } from '../../spec/index.js';
import type { WorkerLogger } from '../agent.js';

/** One epoch's event content. */
export interface TrainerEpoch {
  epoch: number;
  probes: ProbeValues;
  /** User scalars (a command trainer's own names), finite values only. */
  scalars: Record<string, number>;
}

export interface TrainerCheckpoint {
  /** The last epoch it covers: a resumed attempt starts at epoch + 1. */
  epoch: number;
  /** This trainer's own format; handed back as `resumeFrom` on resume. */
  bytes: Uint8Array;
}

export interface TrainerJob {
  trial: TrialAssignment;
  attempt: number;
  config: TrialConfig;
  /** Devices set aside for the attempt ("cuda:0"); empty: CPU. */
  devices: readonly string[];
  signal: AbortSignal;
  log: WorkerLogger;
  /** A checkpoint this kind of trainer wrote in an earlier attempt. */
  resumeFrom?: Uint8Array;
  /** Checkpoint after every this many epochs (counted from epoch 0); undefined: never. */
  checkpointEvery?: number;
  /** When stopped for a hand-over, checkpoint the last epoch done. */
  checkpointOnAbort: boolean;
  /** Awaited: a slow consumer holds training back. Called for the epochs that have events. */
  onEpoch(e: TrainerEpoch): Promise<void>;
  /** Called after the events of every epoch it covers. */
  onCheckpoint(c: TrainerCheckpoint): Promise<void>;
  /**
   * Asked once the signal has fired: true when the attempt is being handed over (worker
   * shutdown), so a trainer that can should finish its epoch and checkpoint first; false (a
   * cancel, a lost lease) when it should stop at once.
   */
  handOver(): Promise<boolean>;
}

export interface TrainerOutcome {
  status: 'completed' | 'diverged' | 'aborted';
  /** Epochs done (the last one's index + 1). */
  epochs: number;
  reason?: string;
}

export interface Trainer {
  /** What ran the trial, for its result and events (a command trainer knows more after hello). */
  metadata(): EngineMetadata;
  /** Trains the attempt; failures are thrown (a TrainerError says whether to retry). */
  run(job: TrainerJob): Promise<TrainerOutcome>;
}
