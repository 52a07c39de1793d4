// Sweeps and their trials: what is pending, running, done. Pure state with no I/O; the
// scheduler asks it for the next trial to lease and reports outcomes back. Re-submitting a sweep
// adds only the trials it does not have yet (ids are deterministic), so submission is idempotent.
// Every change marks its record dirty; the state store persists exactly the dirty records.
import type { EngineMetadata } from '../proto/index.js';
import type { PlannedTrial, SweepSpec } from '../spec/index.js';
import { canonicalJson } from '../spec/index.js';
import { PendingQueue } from './pending-queue.js';

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
  /** Position in the sweep's plan: pending trials are leased in this order. */
  readonly index: number;
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
  /** Fencing token of the live lease ('' when none): persisted so leases survive a restart. */
  leaseToken: string;
  checkpointRef: string;
  /** Epochs `checkpointRef` covers: the next attempt's first event is for this epoch. */
  checkpointEpochs: number;
  /** The last lines a failed command trainer printed. */
  logTail: string;
  finalLoss: number | null;
  finalValAcc: number | null;
  /** Engine, backend and library versions of the attempt that finished it. */
  metadata?: EngineMetadata;
}

export interface SweepRecord {
  readonly sweepId: string;
  readonly name: string;
  priority: number;
  readonly seq: number;
  readonly trials: Map<string, TrialRecord>;
  cancelled: boolean;
}

interface SweepEntry {
  record: SweepRecord;
  pending: PendingQueue<TrialRecord>;
  leased: number;
}

export type PersistedSweep = Omit<SweepRecord, 'trials'>;
export type PersistedTrial = TrialRecord;

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
  private readonly sweeps = new Map<string, SweepEntry>();
  private seq = 0;
  private dirtyTrials = new Set<TrialRecord>();
  private dirtySweeps = new Set<SweepRecord>();

  constructor(private readonly options: RegistryOptions = { maxFailures: 3 }) {}

  submit(spec: SweepSpec, planned: readonly PlannedTrial[]): SubmitResult {
    let entry = this.sweeps.get(spec.name);
    if (entry === undefined) {
      entry = this.addSweep({
        sweepId: spec.name,
        name: spec.name,
        priority: spec.priority,
        seq: this.seq,
        cancelled: false,
      });
    }
    const sweep = entry.record;
    let added = 0;
    for (const t of planned) {
      if (sweep.trials.has(t.trialId)) continue;
      const train = t.config.train;
      this.addTrial(entry, {
        sweepId: sweep.sweepId,
        trialId: t.trialId,
        index: sweep.trials.size,
        seed: t.seed,
        axes: t.axes,
        configJson: canonicalJson(t.config),
        epochs:
          train.early_stop_epoch === null ? train.epochs : Math.min(train.epochs, train.early_stop_epoch + 1),
        state: 'pending',
        attempt: 0,
        failures: 0,
        epoch: 0,
        reason: '',
        workerId: '',
        leaseToken: '',
        checkpointRef: '',
        checkpointEpochs: 0,
        logTail: '',
        finalLoss: null,
        finalValAcc: null,
      });
      added++;
    }
    if (sweep.priority !== spec.priority || (added > 0 && sweep.cancelled)) {
      sweep.priority = spec.priority;
      if (added > 0) sweep.cancelled = false;
      this.dirtySweeps.add(sweep);
    }
    return { sweepId: sweep.sweepId, total: sweep.trials.size, added };
  }

  /** Rebuilds the registry from persisted records (coordinator restart). */
  restore(sweeps: readonly PersistedSweep[], trials: readonly PersistedTrial[]): void {
    for (const s of [...sweeps].sort((a, b) => a.seq - b.seq)) {
      if (!this.sweeps.has(s.sweepId)) this.addSweep({ ...s });
    }
    for (const t of [...trials].sort((a, b) => a.index - b.index)) {
      const entry = this.sweeps.get(t.sweepId);
      // Fields added later default for state written by an older version.
      if (entry !== undefined && !entry.record.trials.has(t.trialId))
        this.addTrial(entry, Object.assign({ checkpointEpochs: 0, logTail: '' }, t));
    }
    this.dirtySweeps.clear();
    this.dirtyTrials.clear();
  }

  private addSweep(record: Omit<SweepRecord, 'trials'>): SweepEntry {
    const entry: SweepEntry = {
      record: { ...record, trials: new Map() },
      pending: new PendingQueue(),
      leased: 0,
    };
    this.seq = Math.max(this.seq, record.seq + 1);
    this.sweeps.set(record.sweepId, entry);
    this.dirtySweeps.add(entry.record);
    return entry;
  }

  private addTrial(entry: SweepEntry, t: TrialRecord): void {
    entry.record.trials.set(t.trialId, t);
    if (t.state === 'pending') entry.pending.push(t);
    if (t.state === 'leased') entry.leased++;
    this.dirtyTrials.add(t);
  }

  /** The records changed since the last call, for the state store. */
  takeDirty(): { sweeps: PersistedSweep[]; trials: PersistedTrial[] } {
    const sweeps = [...this.dirtySweeps].map(({ trials: _trials, ...rest }) => rest);
    const trials = [...this.dirtyTrials].map((t) => ({ ...t }));
    this.dirtySweeps = new Set();
    this.dirtyTrials = new Set();
    return { sweeps, trials };
  }

  /** Marks records dirty again after a failed write. */
  restoreDirty(batch: { sweeps: readonly PersistedSweep[]; trials: readonly PersistedTrial[] }): void {
    for (const s of batch.sweeps) {
      const r = this.sweeps.get(s.sweepId)?.record;
      if (r) this.dirtySweeps.add(r);
    }
    for (const t of batch.trials) {
      const r = this.trial(t.sweepId, t.trialId);
      if (r) this.dirtyTrials.add(r);
    }
  }

  get hasDirty(): boolean {
    return this.dirtySweeps.size > 0 || this.dirtyTrials.size > 0;
  }

  /** Marks a trial changed by its caller (progress, final values). */
  touch(t: TrialRecord): void {
    this.dirtyTrials.add(t);
  }

  get(sweepId: string): SweepRecord | undefined {
    return this.sweeps.get(sweepId)?.record;
  }

  list(): SweepRecord[] {
    return [...this.sweeps.values()].map((e) => e.record).sort((a, b) => a.seq - b.seq);
  }

  trial(sweepId: string, trialId: string): TrialRecord | undefined {
    return this.sweeps.get(sweepId)?.record.trials.get(trialId);
  }

  /**
   * The next trial to lease: highest priority first; among equal priorities the sweep with the
   * fewest running trials (fair share), then the oldest sweep; within a sweep, plan order.
   */
  nextPending(): TrialRecord | undefined {
    let best: SweepEntry | undefined;
    for (const e of this.sweeps.values()) {
      if (e.record.cancelled || e.pending.size === 0) continue;
      if (
        best === undefined ||
        e.record.priority > best.record.priority ||
        (e.record.priority === best.record.priority &&
          (e.leased < best.leased || (e.leased === best.leased && e.record.seq < best.record.seq)))
      ) {
        best = e;
      }
    }
    return best?.pending.peek();
  }

  private setState(t: TrialRecord, state: TrialState): void {
    const entry = this.sweeps.get(t.sweepId)!;
    if (t.state === 'pending') entry.pending.delete(t);
    if (t.state === 'leased') entry.leased--;
    if (state !== 'leased') t.leaseToken = '';
    t.state = state;
    if (state === 'pending') entry.pending.push(t);
    if (state === 'leased') entry.leased++;
    this.dirtyTrials.add(t);
  }

  markLeased(t: TrialRecord, workerId: string): number {
    this.setState(t, 'leased');
    t.attempt += 1;
    t.workerId = workerId;
    return t.attempt;
  }

  setMetadata(t: TrialRecord, metadata: EngineMetadata): void {
    t.metadata = metadata;
    this.dirtyTrials.add(t);
  }

  setLeaseToken(t: TrialRecord, token: string): void {
    t.leaseToken = token;
    this.dirtyTrials.add(t);
  }

  /** Trials that held a lease when their state was saved. */
  leasedTrials(): TrialRecord[] {
    const out: TrialRecord[] = [];
    for (const e of this.sweeps.values())
      for (const t of e.record.trials.values()) if (t.state === 'leased' && t.leaseToken) out.push(t);
    return out;
  }

  /** A terminal result: completed and diverged are results, not failures. */
  finish(t: TrialRecord, state: 'completed' | 'diverged', epochs: number, reason = ''): void {
    this.setState(t, state);
    t.epoch = epochs;
    t.reason = reason;
  }

  /** A crash or lost lease: back to pending until the failure limit, then failed; at once when permanent. */
  fail(t: TrialRecord, reason: string, permanent = false): TrialState {
    t.failures += 1;
    t.reason = reason;
    this.setState(t, permanent || t.failures >= this.options.maxFailures ? 'failed' : 'pending');
    return t.state;
  }

  /** Handed back unfinished (graceful shutdown): re-lease at once, no failure counted. */
  requeue(t: TrialRecord): void {
    if (!TERMINAL_STATES.has(t.state)) this.setState(t, 'pending');
  }

  /** Stops leasing the sweep's trials; pending ones become cancelled. Running ones are told by heartbeat. */
  cancel(sweepId: string): number {
    const entry = this.sweeps.get(sweepId);
    if (entry === undefined) return 0;
    entry.record.cancelled = true;
    this.dirtySweeps.add(entry.record);
    let n = 0;
    for (const t of entry.record.trials.values()) {
      if (t.state === 'pending') {
        this.setState(t, 'cancelled');
        n++;
      }
    }
    return n;
  }

  /** Failed and cancelled trials become pending again, with their failure count reset. */
  retry(sweepId: string): number {
    const entry = this.sweeps.get(sweepId);
    if (entry === undefined) return 0;
    if (entry.record.cancelled) {
      entry.record.cancelled = false;
      this.dirtySweeps.add(entry.record);
    }
    let n = 0;
    for (const t of entry.record.trials.values()) {
      if (t.state === 'failed' || t.state === 'cancelled') {
        t.failures = 0;
        t.reason = '';
        this.setState(t, 'pending');
        n++;
      }
    }
    return n;
  }

  /** A trial whose sweep was cancelled while it ran ends cancelled when it comes back. */
  cancelled(t: TrialRecord): boolean {
    return this.sweeps.get(t.sweepId)?.record.cancelled ?? true;
  }

  markCancelled(t: TrialRecord, reason: string): void {
    t.reason = reason;
    this.setState(t, 'cancelled');
  }

  isDone(sweepId: string): boolean {
    const entry = this.sweeps.get(sweepId);
    if (entry === undefined) return false;
    return entry.pending.size === 0 && entry.leased === 0;
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
    for (const t of this.sweeps.get(sweepId)?.record.trials.values() ?? []) counts[t.state]++;
    return counts;
  }
}
