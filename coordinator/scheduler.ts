// The coordinator's decisions: which worker gets which trial, what a heartbeat or a result
// means, when a lease is lost. No sockets here: sessions are send callbacks, time is a Clock,
// so every rule is unit-tested directly. Messages about a lease are fenced by its token.
import type {
  CoordinatorMessage,
  Device,
  Heartbeat,
  HeartbeatReply,
  LeaseProgress,
  ProbeEvent,
  TrialEvent,
  TrialResult,
} from '../proto/index.js';
import { LeaseAction, TrialOutcome } from '../proto/index.js';
import type { PlannedTrial, SweepSpec } from '../spec/index.js';
import type { Clock } from './clock.js';
import { EventLedger, type EventSchedule } from './event-ledger.js';
import { GpuSlots, gpuNeedOf, hasGpus, workerGpus } from './gpu-slots.js';
import { LeaseTable, type LeaseRecord, type TokenSource } from './lease-table.js';
import { SweepRegistry, type SubmitResult, type TrialRecord } from './sweep-registry.js';

export interface WorkerSession {
  readonly workerId: string;
  /** Leases the worker asked for and has not been given yet. */
  wanted: number;
  /**
   * The worker streams its probe events through the coordinator (embedded mode): its
   * checkpoints and results are accepted only once the events they cover are stored. Otherwise
   * (NATS) the worker itself waits for JetStream's acknowledgements before announcing them.
   */
  readonly eventsViaCoordinator?: boolean;
  /** Accelerators from the worker's hello: its CUDA devices take trials that ask for GPUs. */
  readonly devices?: readonly Device[];
  /** Trials that may share one of its GPUs (default 1). */
  readonly trialsPerGpu?: number;
  send(msg: CoordinatorMessage): void;
}

export interface SchedulerOptions {
  clock: Clock;
  leaseTtlMs: number;
  maxFailures?: number;
  newToken?: TokenSource;
  /** Trial status changes (leased, completed, …), for the event pipeline and the UI. */
  onTrialEvent?: (e: TrialEvent, trial: TrialRecord) => void;
  /**
   * Delivers a lease message. The coordinator defers it until the lease is durable, so a
   * restarted coordinator never hands out the same attempt twice. Default: at once.
   */
  deliverLease?: (deliver: () => void) => void;
  /** Consecutive failed trials after which a worker gets no more leases. */
  quarantineAfter?: number;
  onQuarantine?: (workerId: string, failures: number) => void;
}

export class Scheduler {
  readonly registry: SweepRegistry;
  readonly leases: LeaseTable;
  private readonly sessions = new Map<string, WorkerSession>();
  private rr = 0;
  /** Consecutive failures per worker id; reset by any success. */
  private readonly workerFailures = new Map<string, number>();
  readonly quarantined = new Set<string>();
  /** Which streamed events of each live attempt are stored (see eventsViaCoordinator). */
  private readonly ledger = new EventLedger();
  /** The GPUs each live lease holds; an entry goes when its lease leaves the table. */
  private readonly gpus: GpuSlots;
  /** Workers whose session advertised CUDA devices. */
  private readonly gpuWorkers = new Set<string>();
  /** GPUs each trial asks for, read once from its config. */
  private readonly gpuNeeds = new WeakMap<TrialRecord, number>();

  constructor(private readonly options: SchedulerOptions) {
    this.registry = new SweepRegistry({ maxFailures: options.maxFailures ?? 3 });
    this.leases = new LeaseTable(options.clock, options.leaseTtlMs, options.newToken);
    this.gpus = new GpuSlots((token) => this.leases.get(token) !== undefined);
  }

  get workers(): number {
    return this.sessions.size;
  }

  submit(spec: SweepSpec, planned: readonly PlannedTrial[]): SubmitResult {
    const result = this.registry.submit(spec, planned);
    this.dispatch();
    return result;
  }

  attach(session: WorkerSession): void {
    this.sessions.set(session.workerId, session);
    if (hasGpus(session.devices)) this.gpuWorkers.add(session.workerId);
    else this.gpuWorkers.delete(session.workerId);
  }

  /** The stream closed. Its leases stay until their TTL: the worker may reconnect and go on. */
  detach(workerId: string, session?: WorkerSession): void {
    if (session !== undefined && this.sessions.get(workerId) !== session) return;
    this.sessions.delete(workerId);
    this.gpuWorkers.delete(workerId);
  }

  request(workerId: string, count: number): void {
    const s = this.sessions.get(workerId);
    if (s === undefined) return;
    s.wanted = count;
    this.dispatch();
  }

  /**
   * Hands pending trials to workers that asked, round-robin so one worker can't take all. A
   * trial that asks for k GPUs (`resources.gpu` in its config) goes only to a worker with k
   * devices that have a free slot, and the lease names them; one that asks for none goes to any
   * worker, those without GPUs first. When the next trial fits no waiting worker, the first
   * pending trial that does is leased instead, so CPU workers don't idle behind GPU trials.
   */
  dispatch(): void {
    const waiting = () =>
      [...this.sessions.values()].filter((s) => s.wanted > 0 && !this.quarantined.has(s.workerId));
    let sessions = waiting();
    while (sessions.length > 0) {
      const placed = this.place(sessions);
      if (placed === undefined) return;
      this.lease(placed.trial, placed.session, placed.devices);
      sessions = waiting();
    }
  }

  /**
   * Trials holding each of the worker's GPUs now ("cuda:0" → count); undefined while it holds
   * leases restored after a restart, whose GPUs are not known.
   */
  gpusInUse(workerId: string): Map<string, number> | undefined {
    return this.gpus.use(workerId);
  }

  /** The GPUs a trial asks for: `resources.gpu` of its config, 0 when absent or unreadable. */
  gpuNeed(trial: TrialRecord): number {
    let need = this.gpuNeeds.get(trial);
    if (need === undefined) {
      need = gpuNeedOf(trial.configJson);
      this.gpuNeeds.set(trial, need);
    }
    return need;
  }

  private place(sessions: readonly WorkerSession[]): Placement | undefined {
    const head = this.registry.nextPending();
    if (head === undefined) return undefined;
    const placed = this.placeOn(head, sessions);
    if (placed !== undefined) return placed;
    for (const trial of this.pendingInOrder()) {
      if (trial === head) continue;
      const p = this.placeOn(trial, sessions);
      if (p !== undefined) return p;
    }
    return undefined;
  }

  private placeOn(trial: TrialRecord, sessions: readonly WorkerSession[]): Placement | undefined {
    const need = this.gpuNeed(trial);
    if (need === 0) {
      // Keep GPU workers free for the trials that need them while a CPU worker can take this one.
      const cpu = this.gpuWorkers.size === 0 ? sessions : sessions.filter((s) => !hasGpus(s.devices));
      const pool = cpu.length > 0 ? cpu : sessions;
      return { trial, session: pool[this.rr++ % pool.length]!, devices: [] };
    }
    const fits: { session: WorkerSession; devices: string[] }[] = [];
    for (const session of sessions) {
      const gpus = workerGpus(session.devices, session.trialsPerGpu);
      const devices = this.gpus.pick(session.workerId, gpus, need);
      if (devices !== undefined) fits.push({ session, devices });
    }
    if (fits.length === 0) return undefined;
    return { trial, ...fits[this.rr++ % fits.length]! };
  }

  /** Pending trials of every live sweep: higher priority first, then older sweeps, then plan order. */
  private *pendingInOrder(): Generator<TrialRecord> {
    const sweeps = this.registry.list().filter((s) => !s.cancelled);
    sweeps.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    for (const sweep of sweeps) for (const t of sweep.trials.values()) if (t.state === 'pending') yield t;
  }

  private lease(trial: TrialRecord, session: WorkerSession, devices: string[] = []): void {
    const attempt = this.registry.markLeased(trial, session.workerId);
    const lease = this.leases.grant(trial.sweepId, trial.trialId, attempt, session.workerId);
    this.registry.setLeaseToken(trial, lease.token);
    if (devices.length > 0) this.gpus.assign(lease.token, session.workerId, devices);
    session.wanted -= 1;
    const message: CoordinatorMessage = {
      lease: {
        trial: {
          sweep_id: trial.sweepId,
          trial_id: trial.trialId,
          seed: trial.seed,
          config_json: trial.configJson,
          axes: Object.fromEntries(Object.entries(trial.axes).map(([k, v]) => [k, JSON.stringify(v)])),
        },
        attempt,
        token: lease.token,
        ttl_ms: this.leases.ttlMs,
        checkpoint_ref: trial.checkpointRef,
        checkpoint_epochs: trial.checkpointRef ? trial.checkpointEpochs : 0,
        devices,
      },
    };
    this.openLedger(trial, lease.token);
    const deliver = () => session.send(message);
    if (this.options.deliverLease) this.options.deliverLease(deliver);
    else deliver();
    this.emit(trial, lease, 'leased');
  }

  heartbeat(workerId: string, hb: Heartbeat): HeartbeatReply {
    const directives = hb.leases.map((p) => {
      const lease = this.leases.renew(p.token, workerId);
      if (lease === undefined)
        return { trial_id: p.trial_id, token: p.token, action: LeaseAction.LEASE_ACTION_LEASE_LOST };
      const trial = this.registry.trial(lease.sweepId, lease.trialId);
      if (trial !== undefined && p.epoch > trial.epoch) {
        trial.epoch = p.epoch;
        this.registry.touch(trial);
      }
      const cancelled = this.registry.get(lease.sweepId)?.cancelled ?? true;
      return {
        trial_id: p.trial_id,
        token: p.token,
        action: cancelled ? LeaseAction.LEASE_ACTION_CANCEL : LeaseAction.LEASE_ACTION_CONTINUE,
      };
    });
    return { directives };
  }

  /**
   * A checkpoint a heartbeat names. Accepted (true) only for the live lease, when it covers more
   * than the trial's current one and, for a worker streaming through the coordinator, when
   * every event it covers is stored: a resumed attempt then never leaves a gap. The gateway
   * offers it after the stream's earlier events are written.
   */
  offerCheckpoint(workerId: string, p: LeaseProgress): boolean {
    if (!p.checkpoint_ref) return false;
    const lease = this.leases.get(p.token);
    if (lease === undefined || lease.workerId !== workerId) return false;
    const trial = this.registry.trial(lease.sweepId, lease.trialId);
    if (trial === undefined || p.checkpoint_ref === trial.checkpointRef) return false;
    if (p.checkpoint_epochs < trial.checkpointEpochs) return false;
    if (
      this.sessions.get(workerId)?.eventsViaCoordinator &&
      !this.ledger.covers(p.token, p.checkpoint_epochs)
    )
      return false;
    trial.checkpointRef = p.checkpoint_ref;
    trial.checkpointEpochs = p.checkpoint_epochs;
    this.registry.touch(trial);
    return true;
  }

  /** A trial's result. Returns false (and changes nothing) when the token is stale. */
  result(workerId: string, r: TrialResult): boolean {
    const lease = this.leases.get(r.token);
    if (lease === undefined || lease.workerId !== workerId || lease.trialId !== r.trial_id) return false;
    const streamed = this.sessions.get(workerId)?.eventsViaCoordinator === true;
    const stored = this.ledger.covers(r.token, r.epochs);
    this.leases.release(r.token);
    this.ledger.close(r.token);
    const trial = this.registry.trial(lease.sweepId, lease.trialId);
    if (trial === undefined) return false;
    const meta = r.metadata;
    const ok =
      r.outcome === TrialOutcome.TRIAL_OUTCOME_COMPLETED || r.outcome === TrialOutcome.TRIAL_OUTCOME_DIVERGED;
    if (ok && streamed && !stored) {
      // Some of its events never reached the store (a stream broke with them in flight): the
      // trial runs again from its last checkpoint whose events are all stored.
      this.registry.requeue(trial);
      this.emit(
        trial,
        lease,
        'released',
        'probe events lost in transit; re-running from the last stored checkpoint',
      );
    } else if (ok) {
      const state = r.outcome === TrialOutcome.TRIAL_OUTCOME_COMPLETED ? 'completed' : 'diverged';
      this.registry.finish(trial, state, r.epochs, r.reason);
      if (meta !== undefined) this.registry.setMetadata(trial, meta);
      this.workerFailures.delete(workerId);
      this.emit(trial, lease, state, r.reason, meta);
    } else if (this.registry.cancelled(trial)) {
      this.registry.markCancelled(trial, 'sweep cancelled');
      this.emit(trial, lease, 'cancelled', r.reason, meta);
    } else if (r.outcome === TrialOutcome.TRIAL_OUTCOME_RELEASED) {
      this.registry.requeue(trial);
      this.emit(trial, lease, 'released', r.reason, meta);
    } else {
      trial.logTail = r.log_tail;
      // A permanent failure (the command cannot run anywhere) fails the trial without retries,
      // and says nothing about the worker.
      const state = this.registry.fail(trial, r.reason || 'worker reported a failure', r.permanent);
      this.emit(trial, lease, state === 'failed' ? 'failed' : 'retrying', r.reason, meta);
      if (!r.permanent) this.countWorkerFailure(workerId);
    }
    this.dispatch();
    return true;
  }

  /**
   * Probe events streamed by a worker: kept only when that worker holds the live lease of the
   * event's trial attempt, so a worker that lost its lease cannot write.
   */
  acceptEvents(workerId: string, events: readonly ProbeEvent[]): ProbeEvent[] {
    const accepted = events.filter((e) => {
      const lease = this.leases.forTrial(e.sweep_id, e.trial_id);
      if (lease === undefined || lease.workerId !== workerId || lease.attempt !== e.attempt) return false;
      if (!this.ledger.arrived(lease.token, e.epoch)) return false;
      const trial = this.registry.trial(e.sweep_id, e.trial_id);
      if (trial !== undefined) this.recordProgress(trial, e);
      return true;
    });
    if (accepted.length < events.length) this.revokeBroken(events);
    return accepted;
  }

  /** Streamed events were written to the store. */
  eventsStored(events: readonly ProbeEvent[]): void {
    for (const e of events) {
      const lease = this.leases.forTrial(e.sweep_id, e.trial_id);
      if (lease !== undefined && lease.attempt === e.attempt) this.ledger.stored(lease.token, e.epoch);
    }
  }

  /** Writing streamed events failed: their attempts cannot complete, and re-run from their last checkpoint. */
  eventsLost(events: readonly ProbeEvent[]): void {
    for (const e of events) {
      const lease = this.leases.forTrial(e.sweep_id, e.trial_id);
      if (lease !== undefined && lease.attempt === e.attempt) this.ledger.lost(lease.token);
    }
    this.revokeBroken(events);
  }

  /**
   * Takes back the leases whose streamed events have a gap: the worker hears "lease lost" on its
   * next heartbeat, and the trial is leased again from its last checkpoint (no failure counted:
   * the events were lost on the way, not by the trial).
   */
  private revokeBroken(events: readonly ProbeEvent[]): void {
    let revoked = false;
    for (const e of events) {
      const lease = this.leases.forTrial(e.sweep_id, e.trial_id);
      if (lease === undefined || !this.ledger.isBroken(lease.token)) continue;
      const trial = this.registry.trial(lease.sweepId, lease.trialId);
      this.leases.release(lease.token);
      this.ledger.close(lease.token);
      if (trial === undefined) continue;
      this.registry.requeue(trial);
      this.emit(
        trial,
        lease,
        'released',
        'probe events lost in transit; re-running from the last stored checkpoint',
      );
      revoked = true;
    }
    if (revoked) this.dispatch();
  }

  private openLedger(trial: TrialRecord, token: string): void {
    this.ledger.open(token, trial.checkpointRef ? trial.checkpointEpochs : 0, eventSchedule(trial));
  }

  /** Progress seen in a probe event (from the stream, or from NATS in cluster mode). */
  recordProgress(trial: TrialRecord, e: ProbeEvent): void {
    if (e.attempt !== trial.attempt) return;
    trial.epoch = Math.max(trial.epoch, e.epoch + 1);
    if (e.loss !== undefined) trial.finalLoss = e.loss;
    if (e.val_acc !== undefined) trial.finalValAcc = e.val_acc;
    this.registry.touch(trial);
  }

  private countWorkerFailure(workerId: string): void {
    const n = (this.workerFailures.get(workerId) ?? 0) + 1;
    this.workerFailures.set(workerId, n);
    if (n >= (this.options.quarantineAfter ?? 5) && !this.quarantined.has(workerId)) {
      this.quarantined.add(workerId);
      this.options.onQuarantine?.(workerId, n);
    }
  }

  /**
   * Re-creates the leases of trials that were running when the coordinator stopped, with a
   * fresh TTL: their workers re-attach by heartbeating the token, or the lease expires.
   */
  restoreLeases(): number {
    const trials = this.registry.leasedTrials();
    for (const t of trials) {
      this.leases.adopt(t.sweepId, t.trialId, t.attempt, t.leaseToken, t.workerId);
      // Which GPUs it was given is not persisted: its worker gets no GPU lease until it ends.
      if (this.gpuNeed(t) > 0) this.gpus.holdUnknown(t.leaseToken, t.workerId);
      // What this attempt stored before the restart is known only up to its accepted checkpoint:
      // a re-attached worker that streamed more breaks the ledger and re-runs from there.
      this.openLedger(t, t.leaseToken);
    }
    return trials.length;
  }

  /** Hands every live lease back (no failure counted): for a restart whose workers are all gone. */
  releaseAllLeases(reason: string): number {
    let n = 0;
    for (const t of this.registry.leasedTrials()) {
      const lease = this.leases.forTrial(t.sweepId, t.trialId);
      if (lease === undefined) continue;
      this.leases.release(lease.token);
      this.ledger.close(lease.token);
      this.registry.requeue(t);
      this.emit(t, lease, 'released', reason);
      n++;
    }
    this.dispatch();
    return n;
  }

  /** Leases past their TTL: the trial goes back to pending (attempt+1 on its next lease). */
  expireLeases(): LeaseRecord[] {
    const expired = this.leases.takeExpired();
    for (const lease of expired) {
      this.ledger.close(lease.token);
      const trial = this.registry.trial(lease.sweepId, lease.trialId);
      if (trial === undefined || trial.state !== 'leased') continue;
      if (this.registry.cancelled(trial)) {
        this.registry.markCancelled(trial, 'sweep cancelled');
        this.emit(trial, lease, 'cancelled', trial.reason);
        continue;
      }
      const state = this.registry.fail(trial, `lease lost: worker ${lease.workerId} missed its heartbeats`);
      this.emit(trial, lease, state === 'failed' ? 'failed' : 'retrying', trial.reason);
    }
    if (expired.length > 0) this.dispatch();
    return expired;
  }

  cancel(sweepId: string): number {
    return this.registry.cancel(sweepId);
  }

  retry(sweepId: string): number {
    const n = this.registry.retry(sweepId);
    this.dispatch();
    return n;
  }

  /**
   * Re-sends the status event of every trial that has one (after a restart): an event the
   * previous process recorded in its state but had not yet published is not lost. Event ids
   * are (trial, attempt, status), so one that did get out is dropped as a duplicate.
   */
  reannounce(): number {
    let n = 0;
    for (const sweep of this.registry.list()) {
      for (const t of sweep.trials.values()) {
        if (t.state === 'pending' || t.attempt === 0) continue;
        this.emit(t, { attempt: t.attempt, workerId: t.workerId }, t.state, t.reason, t.metadata);
        n++;
      }
    }
    return n;
  }

  private emit(
    trial: TrialRecord,
    lease: Pick<LeaseRecord, 'attempt' | 'workerId'>,
    status: string,
    reason = '',
    metadata?: TrialEvent['metadata'],
  ): void {
    this.options.onTrialEvent?.(
      {
        sweep_id: trial.sweepId,
        sweep_name: this.registry.get(trial.sweepId)?.name ?? trial.sweepId,
        trial_id: trial.trialId,
        attempt: lease.attempt,
        status,
        time_ms: Date.now(),
        seed: trial.seed,
        config_json: trial.configJson,
        axes: Object.fromEntries(Object.entries(trial.axes).map(([k, v]) => [k, JSON.stringify(v)])),
        metadata,
        reason,
        worker_id: lease.workerId,
        // A lease says where its attempt starts (the ingester fences earlier attempts from there).
        epochs: status === 'leased' ? (trial.checkpointRef ? trial.checkpointEpochs : 0) : trial.epoch,
        log_tail: status === 'failed' || status === 'retrying' ? trial.logTail : '',
      },
      trial,
    );
  }
}

interface Placement {
  trial: TrialRecord;
  session: WorkerSession;
  /** The GPUs set aside for it ("cuda:0"); empty for a trial that asks for none. */
  devices: string[];
}

/** The epochs a trial's events are expected for: builtin probes every `probes.every` epochs. */
function eventSchedule(trial: TrialRecord): EventSchedule {
  const config = JSON.parse(trial.configJson) as { probes?: { every?: number } };
  return { every: config.probes?.every ?? 1, last: trial.epochs - 1 };
}
