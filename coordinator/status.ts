// Registry records → the SweepStatus messages the CLI reads. Pure.
import type { SweepStatus, TrialStatus } from '../proto/index.js';
import type { Scheduler } from './scheduler.js';
import type { SweepRecord, TrialRecord } from './sweep-registry.js';

export function trialStatus(t: TrialRecord): TrialStatus {
  return {
    trial_id: t.trialId,
    seed: t.seed,
    axes: Object.fromEntries(Object.entries(t.axes).map(([k, v]) => [k, JSON.stringify(v)])),
    state: t.state,
    attempt: t.attempt,
    epoch: t.epoch,
    reason: t.reason,
    worker_id: t.workerId,
    final_loss: t.finalLoss ?? Number.NaN,
    final_val_acc: t.finalValAcc ?? Number.NaN,
    log_tail: t.logTail ?? '',
  };
}

export function sweepStatus(scheduler: Scheduler, sweep: SweepRecord, withTrials: boolean): SweepStatus {
  const registry = scheduler.registry;
  const counts = registry.countByState(sweep.sweepId);
  let epochsDone = 0;
  let epochsTotal = 0;
  for (const t of sweep.trials.values()) {
    epochsTotal += t.epochs;
    // A finished trial has run all its epochs (a diverged one ends early but is done); a
    // cancelled or failed one only those it reached.
    epochsDone += t.state === 'completed' || t.state === 'diverged' ? t.epochs : Math.min(t.epoch, t.epochs);
  }
  const done = registry.isDone(sweep.sweepId);
  return {
    sweep_id: sweep.sweepId,
    name: sweep.name,
    priority: sweep.priority,
    workers: scheduler.workers,
    state: sweep.cancelled ? 'cancelled' : done ? (counts.failed > 0 ? 'failed' : 'completed') : 'running',
    trials_total: sweep.trials.size,
    trials_by_state: counts,
    trials: withTrials ? [...sweep.trials.values()].map(trialStatus) : [],
    epochs_done: epochsDone,
    epochs_total: epochsTotal,
  };
}
