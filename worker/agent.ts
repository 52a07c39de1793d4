// A worker process: connects to the coordinator, trains the trials it leases (up to `slots` at
// once) and streams their probe events, heartbeating progress every TTL/3. The heartbeat reply
// can cancel a trial or say its lease is lost; either aborts that training at once. What to do
// with leases is decided by the LeaseKeeper; this file is the transport and the wiring.
// Lifecycle: create → run() (once; resolves after shutdown) → shutdown() (idempotent: releases
// the running trials so the coordinator re-leases them at once; stops without them after a timeout).
import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  TrialOutcome,
  WorkerGatewayClient,
  type CoordinatorMessage,
  type Device,
  type Lease,
  type TrialResult,
  type WorkerMessage,
} from '../proto/index.js';
import { PhasesweepError } from '../spec/index.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { ProbeSink } from './event-sink.js';
import { StreamProbeSink } from './event-sink.js';
import { LeaseKeeper, ReconnectBackoff, type Clock, type KeptAttempt } from './lease-keeper.js';
import type { WorkerObserver } from './metrics.js';
import type { Engine } from './training/index.js';
import { runAttempt } from './trial-attempt.js';

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
   * Leases held ready beyond the running ones, so the next trial starts without a round trip:
   * a number, or 'auto' (one while trials take under 30 s, where the round trip would show;
   * none for longer trials, so a queued trial never waits behind a long one).
   */
  prefetch?: number | 'auto';
  /** Trials trained at once (default 1). */
  slots?: number;
  /** Of those, trials on the built-in engine (default 1: tfjs trains on this process's one thread). */
  builtinSlots?: number;
  /** Accelerators to advertise (worker/devices.ts); the coordinator sets some aside per lease. */
  devices?: Device[];
  /** Trials that may share one GPU (default 1). */
  trialsPerGpu?: number;
  /** Bearer token for the coordinator. */
  authToken?: string;
  /** CA certificate (PEM) to reach a TLS coordinator; undefined: plaintext. */
  tlsCa?: Buffer;
  /** Metrics (connection, heartbeats, epochs, trial outcomes). */
  observer?: WorkerObserver;
  /** How long shutdown() waits for the running trials to hand back (default 20 s). */
  stopTimeoutMs?: number;
  /** Jitter of the reconnect backoff, uniform in [0, 1) (default Math.random). */
  random?: () => number;
  /** Monotonic time for lease validity (default performance.now). */
  clock?: Clock;
}

export type WorkerState = 'created' | 'running' | 'draining' | 'stopped';

const monotonic: Clock = { now: () => performance.now() };

export class WorkerAgent {
  state: WorkerState = 'created';
  readonly workerId: string;
  private readonly client: WorkerGatewayClient;
  private readonly sink: ProbeSink;
  private readonly clock: Clock;
  private readonly keeper: LeaseKeeper;
  private call: ClientDuplexStream<WorkerMessage, CoordinatorMessage> | undefined;
  private welcomed = false;
  private started = false;
  /** shutdown() gave up waiting for the trials: run() returns without them. */
  private abandoned = false;
  /** One promise per attempt in training; each removes itself when done. */
  private readonly training = new Set<Promise<void>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private replyWaiters: (() => void)[] = [];
  /** Results not yet known to have reached a live stream: re-sent after a reconnect. */
  private unsentResults: TrialResult[] = [];

  constructor(private readonly o: WorkerOptions) {
    this.workerId = o.workerId ?? `${hostname()}-${process.pid}`;
    this.clock = o.clock ?? monotonic;
    this.keeper = new LeaseKeeper({
      clock: this.clock,
      slots: o.slots,
      builtinSlots: o.builtinSlots,
      trialsPerGpu: o.trialsPerGpu,
      prefetch: o.prefetch,
    });
    this.client = new WorkerGatewayClient(
      o.coordinator,
      o.tlsCa ? credentials.createSsl(o.tlsCa) : credentials.createInsecure(),
      { 'grpc.keepalive_time_ms': 10_000 },
    );
    this.sink = o.sink ?? new StreamProbeSink((events) => this.send({ events: { events } }));
  }

  async run(): Promise<void> {
    if (this.started)
      throw new PhasesweepError('FAILED_PRECONDITION', 'WorkerAgent.run() was already called');
    this.started = true;
    if (this.state === 'stopped') return; // shut down before it ran
    this.transition('running');
    const backoff = new ReconnectBackoff({ maxMs: this.o.maxBackoffMs, random: this.o.random });
    while (this.state === 'running') {
      const connectedAt = this.clock.now();
      await this.session();
      if (this.state !== 'running') break;
      const wait = backoff.next(this.clock.now() - connectedAt);
      this.o.log.warn(`coordinator stream closed; reconnecting in ${wait} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (!this.abandoned) await this.trainingDone();
    await this.sink.close();
    this.client.close();
    this.transition('stopped');
  }

  /**
   * Gives the running trials back (released, with a hand-over checkpoint where the store allows)
   * and the queued leases, then closes the stream. Trials still running after `timeoutMs` are
   * left behind: their leases expire on the coordinator and run() returns without them.
   */
  async shutdown(timeoutMs = this.o.stopTimeoutMs ?? 20_000): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    if (this.state === 'created') {
      this.client.close();
      this.transition('stopped');
      return;
    }
    this.transition('draining');
    const { release } = this.keeper.drain();
    for (const lease of release) this.release(lease, 'worker shutting down');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
      timer.unref();
    });
    const late = await Promise.race([this.trainingDone().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      this.abandoned = true;
      this.o.log.error(
        `${this.training.size} trials still running ${timeoutMs} ms after shutdown began: stopping without them (their leases expire)`,
      );
    }
    this.call?.end();
    this.wake?.();
  }

  private async trainingDone(): Promise<void> {
    while (this.training.size > 0) await Promise.all([...this.training]);
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
        this.keeper.disconnected();
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
          slots: this.o.slots ?? 1,
          engines: [this.o.engine.info.engine],
          version: '1',
          event_sink: this.o.sink ? 'nats' : 'coordinator',
          devices: this.o.devices ?? [],
          trials_per_gpu: this.o.trialsPerGpu ?? 1,
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

  private onMessage(msg: CoordinatorMessage): void {
    if (msg.welcome !== undefined) {
      this.welcomed = true;
      this.o.observer?.connected(true);
      this.keeper.connected();
      // Re-attach: the heartbeat names the leases we still hold; then whatever did not get out.
      this.unsentResults = this.unsentResults.filter((result) => !this.send({ result }));
      void this.sink.flush();
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => this.sendHeartbeat(), msg.welcome.heartbeat_ms);
      this.heartbeat.unref();
      if (this.keeper.size > 0) this.sendHeartbeat();
      this.requestMore();
    } else if (msg.lease !== undefined) {
      if (this.keeper.received(msg.lease) === 'release') this.release(msg.lease, 'worker shutting down');
      else this.startReady();
      this.requestMore();
    } else if (msg.heartbeat_reply !== undefined) {
      for (const a of this.keeper.replied(msg.heartbeat_reply)) {
        if (a.abortReason === 'lease_lost') this.o.observer?.leaseLost();
        this.o.log.warn(`trial ${a.lease.trial?.trial_id}: ${a.abortReason}, aborting`);
      }
      const waiters = this.replyWaiters;
      this.replyWaiters = [];
      for (const w of waiters) w();
      this.requestMore(); // a queued lease that was dropped leaves room
    }
  }

  /** Waits until the coordinator confirms (or denies) the lease; false if it is not ours. */
  private async confirmLease(a: KeptAttempt): Promise<boolean> {
    const token = a.lease.token;
    while (this.keeper.confirmation(token) === 'unconfirmed' && this.state === 'running') {
      this.o.log.warn(`trial ${a.lease.trial?.trial_id}: lease unconfirmed for too long; holding events`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1_000);
        this.replyWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
        this.sendHeartbeat();
      });
    }
    return this.keeper.confirmation(token) !== 'denied';
  }

  private sendHeartbeat(): void {
    if (this.send({ heartbeat: { leases: this.keeper.progress() } })) {
      this.keeper.heartbeatSent();
      this.o.observer?.heartbeatSent();
    }
  }

  private requestMore(): void {
    if (this.state !== 'running' || !this.welcomed) return;
    const count = this.keeper.request();
    if (count !== undefined) this.send({ request: { count } });
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

  /** Starts every queued lease that has a slot now. */
  private startReady(): void {
    for (const a of this.keeper.startable()) {
      const done: Promise<void> = this.train(a).finally(() => {
        this.training.delete(done);
        this.keeper.finished(a.lease.token);
        if (this.state === 'running') this.startReady();
        this.requestMore();
      });
      this.training.add(done);
    }
  }

  private async train(a: KeptAttempt): Promise<void> {
    const result = await runAttempt(
      {
        engine: this.o.engine,
        sink: this.sink,
        workerId: this.workerId,
        log: this.o.log,
        checkpoints: this.o.checkpoints,
        checkpointEvery: this.o.checkpointEvery,
        confirmLease: () => this.confirmLease(a),
        onPublished: () => this.o.observer?.epochPublished(),
      },
      a,
    );
    if (result.outcome === TrialOutcome.TRIAL_OUTCOME_RELEASED) {
      if (a.abortReason === 'lease_lost') {
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
    if (!this.send({ result })) this.unsentResults.push(result);
  }

  private transition(to: WorkerState): void {
    this.o.log.info(`${this.state} → ${to}`);
    this.state = to;
  }
}
