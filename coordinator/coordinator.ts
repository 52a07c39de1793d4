// The coordinator process: serves the WorkerGateway and SweepService over gRPC, keeps its state
// durable (journal file or JetStream KV), expires lost leases on a timer, and forwards trial and
// probe events to its sinks. Lifecycle: create → run() (resolves after shutdown) → shutdown().
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { SweepServiceService, WorkerGatewayService, type TrialEvent } from '../proto/index.js';
import { PhasesweepError } from '../spec/index.js';
import { createAuthCheck } from './auth.js';
import { monotonicClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './logger.js';
import { Scheduler } from './scheduler.js';
import { discardSinks, type CoordinatorSinks } from './sinks.js';
import { memoryStateStore, type StateStore } from './state-store.js';
import { StateWriter } from './state-writer.js';
import type { TrialRecord } from './sweep-registry.js';
import { createSweepService } from './sweep-service.js';
import { createWorkerGateway, type WorkerGateway } from './worker-gateway.js';

export interface TlsOptions {
  cert: Buffer;
  key: Buffer;
}

export interface CoordinatorOptions {
  /** host:port; port 0 picks a free one (see `address`). */
  listen: string;
  /** Heartbeats go every TTL/3; a worker silent for 2 heartbeat intervals loses its leases. */
  leaseTtlMs?: number;
  maxFailures?: number;
  quarantineAfter?: number;
  sinks?: CoordinatorSinks;
  /** Durable state; default in memory (nothing survives the process). */
  stateStore?: StateStore;
  /** Bearer token workers and the CLI must present; undefined: no authentication. */
  authToken?: string;
  tls?: TlsOptions;
  clock?: Clock;
  log?: Logger;
  /** Called after every trial status change (progress bars, live pages). */
  onTrialEvent?: (e: TrialEvent, trial: TrialRecord) => void;
}

export type CoordinatorState = 'created' | 'running' | 'draining' | 'stopped';

export class Coordinator {
  readonly scheduler: Scheduler;
  state: CoordinatorState = 'created';
  private readonly server = new Server({ 'grpc.keepalive_permit_without_calls': 1 });
  private readonly log: Logger;
  private readonly sinks: CoordinatorSinks;
  private readonly store: StateStore;
  private readonly writer: StateWriter;
  private readonly gateway: WorkerGateway;
  private expiry: NodeJS.Timeout | undefined;
  private stopped!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.stopped = resolve));
  private pendingTrialWrites: Promise<void> = Promise.resolve();
  port = 0;
  readonly heartbeatMs: number;
  private readonly sweepMs: number;

  private constructor(private readonly options: CoordinatorOptions) {
    this.log = options.log ?? createLogger('coordinator');
    this.sinks = options.sinks ?? discardSinks;
    this.store = options.stateStore ?? memoryStateStore();
    const ttl = options.leaseTtlMs ?? 15_000;
    // Workers heartbeat every TTL/3; one that misses 2 intervals loses its leases. The expiry
    // sweep runs 8 times per interval, so a dead worker is detected within 2 intervals.
    this.heartbeatMs = Math.max(1, Math.floor(ttl / 3));
    this.sweepMs = Math.max(5, Math.floor(this.heartbeatMs / 8));
    let writer: StateWriter | undefined;
    this.scheduler = new Scheduler({
      clock: options.clock ?? monotonicClock,
      leaseTtlMs: 2 * this.heartbeatMs - this.sweepMs,
      maxFailures: options.maxFailures ?? 3,
      quarantineAfter: options.quarantineAfter ?? 5,
      deliverLease: (deliver) => writer!.afterDurable(deliver),
      onQuarantine: (id, n) => this.log.warn(`worker ${id} quarantined after ${n} failed trials in a row`),
      onTrialEvent: (e, trial) => {
        // Recorded only once the change it reports is durable: a coordinator that dies before
        // that comes back without the change (a completion it forgot is run again), and an
        // event already out would then report the trial completed by two attempts.
        writer!.afterDurable(() => {
          this.pendingTrialWrites = this.pendingTrialWrites
            .then(() => this.sinks.trial(e))
            .catch((err: unknown) => this.log.error(`recording trial event failed: ${String(err)}`));
        });
        options.onTrialEvent?.(e, trial);
      },
    });
    this.writer = writer = new StateWriter(this.scheduler.registry, this.store, this.log);
    const authorized = createAuthCheck(options.authToken);
    const onChange = () => this.writer.kick();
    this.gateway = createWorkerGateway({
      scheduler: this.scheduler,
      heartbeatMs: this.heartbeatMs,
      coordinatorId: randomUUID(),
      onProbeEvents: (events) => this.sinks.probes(events),
      log: this.log,
      authorized,
      onChange,
    });
    this.server.addService(WorkerGatewayService, this.gateway.service);
    this.server.addService(
      SweepServiceService,
      createSweepService({ scheduler: this.scheduler, authorized, onChange }),
    );
  }

  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(options);
    const snapshot = await c.store.load();
    c.scheduler.registry.restore(snapshot.sweeps, snapshot.trials);
    const leases = c.scheduler.restoreLeases();
    c.scheduler.reannounce();
    if (snapshot.sweeps.length > 0) {
      c.log.info(
        `recovered ${snapshot.sweeps.length} sweeps, ${snapshot.trials.length} trials, ${leases} live leases`,
      );
    }
    const creds = options.tls
      ? ServerCredentials.createSsl(
          null,
          [{ private_key: options.tls.key, cert_chain: options.tls.cert }],
          false,
        )
      : ServerCredentials.createInsecure();
    c.port = await new Promise<number>((resolve, reject) => {
      c.server.bindAsync(options.listen, creds, (err, port) =>
        err
          ? reject(
              new PhasesweepError('UNAVAILABLE', `cannot listen on ${options.listen}: ${err.message}`, {
                cause: err,
              }),
            )
          : resolve(port),
      );
    });
    return c;
  }

  get address(): string {
    const host = this.options.listen.slice(0, this.options.listen.lastIndexOf(':'));
    return `${host === '0.0.0.0' || host === '' ? '127.0.0.1' : host}:${this.port}`;
  }

  run(): Promise<void> {
    if (this.state === 'created') {
      this.transition('running');
      this.expiry = setInterval(() => {
        if (this.scheduler.expireLeases().length > 0) this.writer.kick();
      }, this.sweepMs);
      this.expiry.unref();
    }
    return this.done;
  }

  async shutdown(graceMs = 5_000): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return this.done;
    this.transition('draining');
    if (this.expiry) clearInterval(this.expiry);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    // Events received before the streams closed are stored, and the checkpoints and results
    // that waited on them applied, before the state is written for the last time.
    await this.gateway.drain();
    await this.writer.flush();
    await this.store.close();
    await this.pendingTrialWrites;
    this.transition('stopped');
    this.stopped();
    return this.done;
  }

  private transition(to: CoordinatorState): void {
    this.log.info(`${this.state} → ${to}`);
    this.state = to;
  }
}
