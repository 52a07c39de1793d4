// A worker process: connects to the coordinator, takes one lease at a time, trains it and
// streams its probe events, heartbeating progress every TTL/3. The heartbeat reply can cancel
// the trial or say the lease is lost; either aborts training at once.
// Lifecycle: create → run() (resolves after shutdown) → shutdown() (idempotent: releases the
// running trial so the coordinator re-leases it immediately).
import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  LeaseAction,
  TrialOutcome,
  WorkerGatewayClient,
  type CoordinatorMessage,
  type Lease,
  type TrialResult,
  type WorkerMessage,
} from '../proto/index.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ProbeSink } from './event-sink.js';
import type { WorkerObserver } from './metrics.js';
import { StreamProbeSink } from './event-sink.js';
import type { Engine } from './training/index.js';
import { runAttempt, type Attempt } from './trial-attempt.js';

export interface WorkerLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface WorkerOptions {
  coordinator: string;
  engine: Engine;
  workerId?: string;
  /** Where probe events go; undefined: over the coordinator stream. */
  sink?: ProbeSink;
  log: WorkerLogger;
  /** Longest wait between reconnect attempts. */
  maxBackoffMs?: number;
  /** Where checkpoints go (every `checkpointEvery` epochs); none: a lost trial restarts from 0. */
  checkpoints?: CheckpointStore;
  checkpointEvery?: number;
  /**
   * Leases held ready beyond the running one, so the next trial starts without a round trip:
   * a number, or 'auto' (one while trials take under 30 s, where the round trip would show;
   * none for longer trials, so a queued trial never waits behind a long one).
   */
  prefetch?: number | 'auto';
  /** Bearer token for the coordinator. */
  authToken?: string;
  /** CA certificate (PEM) to reach a TLS coordinator; undefined: plaintext. */
  tlsCa?: Buffer;
  /** Metrics (connection, heartbeats, epochs, trial outcomes). */
  observer?: WorkerObserver;
}

export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

interface Running extends Attempt {
  /**
   * Until when (local monotonic ms) the lease is surely still ours: the send time of the last
   * confirmed heartbeat plus the TTL, less a margin. Past it (a paused or partitioned worker),
   * nothing is published until the coordinator confirms the lease again.
   */
  validUntil: number;
  /** Why it was aborted: decides the result sent (released, or nothing for a lost lease). */
  abortReason?: 'shutdown' | 'cancel' | 'lease_lost';
}

export class WorkerAgent {
  state: WorkerState = 'created';
  readonly workerId: string;
  private readonly client: WorkerGatewayClient;
  private readonly sink: ProbeSink;
  private call: ClientDuplexStream<WorkerMessage, CoordinatorMessage> | undefined;
  private running: Running | undefined;
  private trialDone: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Leases received while a trial runs (prefetch), started in order. */
  private queued: { lease: Lease; validUntil: number }[] = [];
  /** Leases asked for and not yet received (the coordinator's `wanted` for this session). */
  private outstanding = 0;
  private lastTrialMs = Number.POSITIVE_INFINITY;
  /** Send times of heartbeats awaiting a reply, oldest first (replies come in order). */
  private heartbeatsSent: number[] = [];
  private replyWaiters: (() => void)[] = [];
  /** A result not yet known to have reached a live stream: re-sent after a reconnect. */
  private unsentResult: TrialResult | undefined;

  constructor(private readonly o: WorkerOptions) {
    this.workerId = o.workerId ?? `${hostname()}-${process.pid}`;
    this.client = new WorkerGatewayClient(
      o.coordinator,
      o.tlsCa ? credentials.createSsl(o.tlsCa) : credentials.createInsecure(),
      { 'grpc.keepalive_time_ms': 10_000 },
    );
    this.sink = o.sink ?? new StreamProbeSink((events) => this.send({ events: { events } }));
  }

  async run(): Promise<void> {
    this.transition('running');
    let backoff = 100;
    while (this.state === 'running') {
      const connectedAt = Date.now();
      await this.session();
      if (this.state !== 'running') break;
      if (Date.now() - connectedAt > 5_000) backoff = 100;
      this.o.log.warn(`coordinator stream closed; reconnecting in ${backoff} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, backoff);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      backoff = Math.min(backoff * 2, this.o.maxBackoffMs ?? 5_000);
    }
    await this.trialDone;
    await this.sink.close();
    this.client.close();
    this.transition('stopped');
  }

  /** Gives the running trial back (released) and closes the stream. */
  async shutdown(): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    this.transition('draining');
    for (const q of this.queued.splice(0)) this.release(q.lease, 'worker shutting down');
    if (this.running) {
      this.running.abortReason = 'shutdown';
      this.running.abort.abort(new Error('worker shutting down'));
    }
    await this.trialDone;
    this.call?.end();
    this.wake?.();
  }

  private session(): Promise<void> {
    return new Promise<void>((resolve) => {
      const metadata = new Metadata();
      if (this.o.authToken) metadata.set('authorization', `Bearer ${this.o.authToken}`);
      const call = this.client.connect(metadata);
      this.call = call;
      call.on('data', (msg: CoordinatorMessage) => this.onMessage(msg));
      const closed = () => {
        this.o.observer?.connected(false);
        this.welcomed = false;
        this.heartbeatsSent = [];
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.heartbeat = undefined;
        if (this.call === call) this.call = undefined;
        resolve();
      };
      call.on('error', (err: Error) => {
        this.o.log.warn(`stream error: ${err.message}`);
        closed();
      });
      call.on('end', closed);
      call.write({
        hello: {
          worker_id: this.workerId,
          slots: 1,
          engines: [this.o.engine.info.engine],
          version: '1',
          event_sink: this.o.sink ? 'nats' : 'coordinator',
          devices: [],
          trials_per_gpu: 1,
        },
      });
    });
  }

  /** Writes to the live stream; false when there is none (the caller keeps the message). */
  private send(msg: WorkerMessage): boolean {
    const call = this.call;
    if (call === undefined || call.writableEnded || !this.welcomed) return false;
    call.write(msg);
    return true;
  }

  private welcomed = false;

  private onMessage(msg: CoordinatorMessage): void {
    if (msg.welcome !== undefined) {
      this.welcomed = true;
      this.o.observer?.connected(true);
      // Re-attach: the heartbeat names the lease we still hold; then whatever did not get out.
      if (this.unsentResult !== undefined && this.send({ result: this.unsentResult }))
        this.unsentResult = undefined;
      void this.sink.flush();
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.sendHeartbeat(), msg.welcome.heartbeat_ms);
      this.heartbeat.unref();
      this.outstanding = 0; // a new session starts with nothing asked for
      if (this.running !== undefined || this.queued.length > 0) this.sendHeartbeat();
      this.requestMore();
    } else if (msg.lease !== undefined) {
      this.outstanding = Math.max(0, this.outstanding - 1);
      if (this.state !== 'running') this.release(msg.lease, 'worker shutting down');
      else if (this.running === undefined) this.startTrial(msg.lease);
      else this.queued.push({ lease: msg.lease, validUntil: performance.now() + 0.9 * msg.lease.ttl_ms });
      this.requestMore();
    } else if (msg.heartbeat_reply !== undefined) {
      const sentAt = this.heartbeatsSent.shift();
      for (const d of msg.heartbeat_reply.directives) {
        if (
          d.action === LeaseAction.LEASE_ACTION_CANCEL ||
          d.action === LeaseAction.LEASE_ACTION_LEASE_LOST
        ) {
          // A queued lease that is no longer ours is simply dropped: it never started.
          this.queued = this.queued.filter((q) => q.lease.token !== d.token);
        } else if (sentAt !== undefined) {
          for (const q of this.queued)
            if (q.lease.token === d.token)
              q.validUntil = Math.max(q.validUntil, sentAt + 0.9 * q.lease.ttl_ms);
        }
        const r = this.running;
        if (r === undefined || r.lease.token !== d.token) continue;
        if (d.action === LeaseAction.LEASE_ACTION_CONTINUE && sentAt !== undefined) {
          r.validUntil = Math.max(r.validUntil, sentAt + 0.9 * r.lease.ttl_ms);
        }
        if (
          d.action === LeaseAction.LEASE_ACTION_CANCEL ||
          d.action === LeaseAction.LEASE_ACTION_LEASE_LOST
        ) {
          r.abortReason = d.action === LeaseAction.LEASE_ACTION_CANCEL ? 'cancel' : 'lease_lost';
          if (r.abortReason === 'lease_lost') this.o.observer?.leaseLost();
          this.o.log.warn(`trial ${r.lease.trial?.trial_id}: ${r.abortReason}, aborting`);
          r.abort.abort(new Error(r.abortReason));
        }
      }
      const waiters = this.replyWaiters;
      this.replyWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Waits until the coordinator confirms (or denies) the lease; false if it is not ours. */
  private async confirmLease(r: Running): Promise<boolean> {
    while (performance.now() > r.validUntil && !r.abort.signal.aborted && this.state === 'running') {
      this.o.log.warn(`trial ${r.lease.trial?.trial_id}: lease unconfirmed for too long; holding events`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1_000);
        this.replyWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
        this.sendHeartbeat();
      });
    }
    return !r.abort.signal.aborted || r.abortReason === 'shutdown';
  }

  private sendHeartbeat(): void {
    const r = this.running;
    const held = this.queued.map(({ lease: l }) => ({
      trial_id: l.trial?.trial_id ?? '',
      token: l.token,
      epoch: 0,
      checkpoint_ref: l.checkpoint_ref,
      checkpoint_epochs: l.checkpoint_epochs,
    }));
    if (r)
      held.unshift({
        trial_id: r.lease.trial?.trial_id ?? '',
        token: r.lease.token,
        epoch: r.epoch,
        checkpoint_ref: r.checkpointRef,
        checkpoint_epochs: r.checkpointEpochs,
      });
    const sent = this.send({ heartbeat: { leases: held } });
    if (sent) {
      this.heartbeatsSent.push(performance.now());
      this.o.observer?.heartbeatSent();
    }
  }

  /** Asks for as many leases as it takes to hold one running plus the prefetch. */
  private requestMore(): void {
    if (this.state !== 'running' || !this.welcomed) return;
    const prefetch =
      this.o.prefetch === 'auto' || this.o.prefetch === undefined
        ? this.lastTrialMs < 30_000
          ? 1
          : 0
        : this.o.prefetch;
    const held = (this.running ? 1 : 0) + this.queued.length;
    const want = 1 + prefetch - held - this.outstanding;
    if (want <= 0) return;
    this.outstanding += want;
    this.send({ request: { count: this.outstanding } });
  }

  private release(lease: Lease, reason: string): void {
    const result = {
      trial_id: lease.trial?.trial_id ?? '',
      token: lease.token,
      outcome: TrialOutcome.TRIAL_OUTCOME_RELEASED,
      epochs: 0,
      reason,
      log_tail: '',
      permanent: false,
    };
    if (!this.send({ result }))
      this.o.log.warn(`could not hand back ${result.trial_id}: its lease will expire`);
  }

  private startTrial(lease: Lease, validUntil = performance.now() + 0.9 * lease.ttl_ms): void {
    const running: Running = {
      lease,
      epoch: 0,
      checkpointRef: lease.checkpoint_ref,
      checkpointEpochs: lease.checkpoint_epochs,
      devices: lease.devices,
      validUntil,
      abort: new AbortController(),
    };
    this.running = running;
    const started = performance.now();
    this.trialDone = this.train(running).finally(() => {
      this.running = undefined;
      this.lastTrialMs = performance.now() - started;
      const next = this.queued.shift();
      if (next !== undefined && this.state === 'running') this.startTrial(next.lease, next.validUntil);
      this.requestMore();
    });
  }

  private async train(r: Running): Promise<void> {
    const result = await runAttempt(
      {
        engine: this.o.engine,
        sink: this.sink,
        workerId: this.workerId,
        log: this.o.log,
        checkpoints: this.o.checkpoints,
        checkpointEvery: this.o.checkpointEvery,
        confirmLease: () => this.confirmLease(r),
        onPublished: () => this.o.observer?.epochPublished(),
      },
      r,
    );
    if (result.outcome === TrialOutcome.TRIAL_OUTCOME_RELEASED) {
      if (r.abortReason === 'lease_lost') {
        this.o.observer?.trialFinished('lease_lost');
        return; // someone else owns it now: say nothing
      }
      this.sendHeartbeat(); // carries the hand-over checkpoint ahead of the release
    }
    this.o.observer?.trialFinished(
      result.outcome === TrialOutcome.TRIAL_OUTCOME_COMPLETED
        ? 'completed'
        : result.outcome === TrialOutcome.TRIAL_OUTCOME_DIVERGED
          ? 'diverged'
          : result.outcome === TrialOutcome.TRIAL_OUTCOME_RELEASED
            ? 'released'
            : 'failed',
    );
    if (!this.send({ result })) this.unsentResult = result;
  }

  private transition(to: WorkerState): void {
    this.o.log.info(`${this.state} → ${to}`);
    this.state = to;
  }
}
