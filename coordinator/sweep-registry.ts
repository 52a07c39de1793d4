// Sweeps and their trials: what is pending, running, done. Pure state with no I/O; the gateway
// asks it for the next trial to lease and reports outcomes back. Re-submitting a sweep adds only
// the trials it does not have yet (ids are deterministic), so submission is idempotent.
import type { PlannedTrial, SweepSpec } from '../spec/index.js';
import { canonicalJson } from '../spec/index.js';

export type TrialState = 'pending' | 'leased' | 'completed' | 'diverged' | 'failed' | 'cancelled';
export const TERMINAL_STATES: ReadonlySet<TrialState> = new Set([
  'completed',
  'diverged',
  'failed',
  'cancelled',
]);

export interface TrialRecord {
  readonly sweepId: string;
  readonly trialId: string;
  readonly seed: number;
  readonly axes: Readonly<Record<string, unknown>>;
  readonly configJson: string;
  readonly epochs: number;
  state: TrialState;
  /** Attempts started so far; the next lease gets attempt + 1. */
  attempt: number;
  /** Crashes and lost leases counted against the retry limit. */
  failures: number;
  epoch: number;
  reason: string;
  workerId: string;
  checkpointRef: string;
  finalLoss: number | null;
  finalValAcc: number | null;
}

export interface SweepRecord {
  readonly sweepId: string;
  readonly name: string;
  readonly priority: number;
  readonly seq: number;
  readonly trials: Map<string, TrialRecord>;
  cancelled: boolean;
}

export interface SubmitResult {
  sweepId: string;
  total: number;
  added: number;
}

export interface RegistryOptions {
  /** Crashes / lost leases a trial survives before it fails for good. */
  maxFailures: number;
}

export class SweepRegistry {
  private readonly sweeps = new Map<string, SweepRecord>();
  private seq = 0;
  constructor(private readonly options: RegistryOptions = { maxFailures: 3 }) {}

  submit(spec: SweepSpec, planned: readonly PlannedTrial[]): SubmitResult {
    let sweep = this.sweeps.get(spec.name);
    if (sweep === undefined) {
      sweep = {
        sweepId: spec.name,
        name: spec.name,
        priority: spec.priority,
        seq: this.seq++,
        trials: new Map(),
        cancelled: false,
      };
      this.sweeps.set(sweep.sweepId, sweep);
    }
    let added = 0;
    for (const t of planned) {
      if (sweep.trials.has(t.trialId)) continue;
      sweep.trials.set(t.trialId, {
        sweepId: sweep.sweepId,
        trialId: t.trialId,
        seed: t.seed,
        axes: t.axes,
        configJson: canonicalJson(t.config),
        epochs:
          t.config.train.early_stop_epoch === null
            ? t.config.train.epochs
            : Math.min(t.config.train.epochs, t.config.train.early_stop_epoch + 1),
        state: 'pending',
        attempt: 0,
        failures: 0,
        epoch: 0,
        reason: '',
        workerId: '',
        checkpointRef: '',
        finalLoss: null,
        finalValAcc: null,
      });
      added++;
    }
    if (added > 0) sweep.cancelled = false;
    return { sweepId: sweep.sweepId, total: sweep.trials.size, added };
  }

  get(sweepId: string): SweepRecord | undefined {
    return this.sweeps.get(sweepId);
  }

  list(): SweepRecord[] {
    return [...this.sweeps.values()].sort((a, b) => a.seq - b.seq);
  }

  trial(sweepId: string, trialId: string): TrialRecord | undefined {
    return this.sweeps.get(sweepId)?.trials.get(trialId);
  }

  /**
   * The next trial to lease: highest priority first; among equal priorities the sweep with the
   * fewest running trials (fair share), then the oldest sweep; within a sweep, plan order.
   */
  nextPending(): TrialRecord | undefined {
    let best: { sweep: SweepRecord; running: number; next: TrialRecord } | undefined;
    for (const sweep of this.sweeps.values()) {
      if (sweep.cancelled) continue;
      let running = 0;
      let next: TrialRecord | undefined;
      for (const t of sweep.trials.values()) {
        if (t.state === 'leased') running++;
        else if (t.state === 'pending' && next === undefined) next = t;
      }
      if (next === undefined) continue;
      if (
        best === undefined ||
        sweep.priority > best.sweep.priority ||
        (sweep.priority === best.sweep.priority &&
          (running < best.running || (running === best.running && sweep.seq < best.sweep.seq)))
      ) {
        best = { sweep, running, next };
      }
    }
    return best?.next;
  }

  markLeased(t: TrialRecord, workerId: string): number {
    t.state = 'leased';
    t.attempt += 1;
    t.workerId = workerId;
    return t.attempt;
  }

  /** A terminal result: completed and diverged are results, not failures. */
  finish(t: TrialRecord, state: 'completed' | 'diverged', epochs: number, reason = ''): void {
    t.state = state;
    t.epoch = epochs;
    t.reason = reason;
  }

  /** A crash or lost lease: back to pending until the failure limit, then failed. */
  fail(t: TrialRecord, reason: string): TrialState {
    t.failures += 1;
    t.reason = reason;
    t.state = t.failures >= this.options.maxFailures ? 'failed' : 'pending';
    return t.state;
  }

  /** Handed back unfinished (graceful shutdown): re-lease at once, no failure counted. */
  requeue(t: TrialRecord): void {
    if (!TERMINAL_STATES.has(t.state)) t.state = 'pending';
  }

  cancel(sweepId: string): number {
    const sweep = this.sweeps.get(sweepId);
    if (sweep === undefined) return 0;
    sweep.cancelled = true;
    let n = 0;
    for (const t of sweep.trials.values()) {
      if (t.state === 'pending') {
        t.state = 'cancelled';
        n++;
      }
    }
    return n;
  }

  isDone(sweepId: string): boolean {
    const sweep = this.sweeps.get(sweepId);
    if (sweep === undefined) return false;
    for (const t of sweep.trials.values()) if (!TERMINAL_STATES.has(t.state)) return false;
    return true;
  }

  countByState(sweepId: string): Record<TrialState, number> {
    const counts: Record<TrialState, number> = {
      pending: 0,
      leased: 0,
      completed: 0,
      diverged: 0,
      failed: 0,
      cancelled: 0,
    };
    for (const t of this.sweeps.get(sweepId)?.trials.values() ?? []) counts[t.state]++;
    return counts;
  }
}
