// Publishes probe and trial events to JetStream without making training wait: events go into
// a bounded buffer that a background pump drains in batches; when NATS is unreachable they go
// to a bounded spill file and are replayed later. Callers wait only when the bound is reached.
// Probe events are encoded and packed per trial as they arrive (probe-packer.ts); a message
// is queued once full or once it has waited maxDelayMs.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckedPublisher } from './acked-publish.js';
import { TrialEvent, type ProbeEvent } from '../proto/index.js';
import { errorMessage, PhasesweepError } from '../spec/errors.js';
import { SpillFile } from './spill-file.js';
import { ensureStreams } from './streams.js';
import type { OutboundMessage } from './outbound.js';
import { ProbePacker } from './probe-packer.js';
import { DEFAULT_PREFIX, eventSubject, trialMsgId, validatePrefix } from './subjects.js';

export interface NatsEventPublisherOptions {
  natsUrl: string;
  prefix?: string;
  /** Events per publish round (default 1000). */
  maxBatch?: number;
  /** Longest an event waits in the buffer before a round starts (default 50 ms). */
  maxDelayMs?: number;
  /**
   * Probe events of one trial packed into one message (default 1: one ProbeEvent per message; at most 64).
   * Above 1 the stream carries ProbeEventBatch payloads marked by a header: far fewer messages
   * at high event rates; duplicates are then dropped per message, and by the stores per key.
   */
  maxEventsPerMessage?: number;
  /** Events held in memory; beyond it publishProbe/publishTrial wait (default 50 000). */
  maxBuffered?: number;
  /** Where to spill events while NATS is unreachable; without it the publisher holds and retries. */
  spillDir?: string;
  /** Bound of the spill file (default 256 MiB); when full, callers wait. */
  maxSpillBytes?: number;
  /** Per-publish acknowledgement timeout (default 5 s). */
  publishTimeoutMs?: number;
  /** How long close() tries to deliver what is left (default 30 s). */
  closeTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface EventPublisher {
  publishProbe(e: ProbeEvent): Promise<void>;
  publishTrial(e: TrialEvent): Promise<void>;
  /** Resolves once every event handed in so far is in JetStream or in the spill file. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

type PublisherState = 'RUNNING' | 'CLOSING' | 'CLOSED';

const RETRY_MS = 1000;
const MAX_EVENTS_PER_MESSAGE = 64;
/** What publishProbe returns while there is room: no promise is made per event. */
const ACCEPTED = Promise.resolve();

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

class NatsEventPublisher implements EventPublisher {
  /** Messages ready to send, in order. */
  private readonly queue: OutboundMessage[] = [];
  /** Events in `queue`. */
  private queuedEvents = 0;
  /** Probe events not yet in `queue`: each trial's message still filling up. */
  private readonly packer: ProbePacker;
  private readonly spaceWaiters: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  /** Queues the messages still filling up, maxDelayMs after an event found none pending. */
  private sealTimer: NodeJS.Timeout | undefined;
  /** Retries after a round that could be neither sent nor spilled. */
  private timer: NodeJS.Timeout | undefined;
  private pumping = false;
  private blockedSince: number | undefined;
  /** False after a failed round, until NATS reports a reconnect or a replay succeeds. */
  private healthy: boolean;
  private connected: boolean;
  private state: PublisherState = 'RUNNING';
  private readonly replayTimer: NodeJS.Timeout;

  constructor(
    private readonly o: Required<Omit<NatsEventPublisherOptions, 'spillDir'>>,
    private nc: NatsConnection | undefined,
    private js: AckedPublisher | undefined,
    private readonly spill: SpillFile | undefined,
  ) {
    this.packer = new ProbePacker(o.prefix, o.maxEventsPerMessage);
    this.healthy = nc !== undefined;
    this.connected = nc !== undefined;
    if (nc !== undefined) this.watch(nc);
    // Replays spilled events and retries held ones even when no new event arrives.
    this.replayTimer = setInterval(() => this.kick(), RETRY_MS * 2);
    this.replayTimer.unref();
  }

  /** Events handed in and not yet sent or spilled. */
  private buffered(): number {
    return this.queuedEvents + this.packer.size;
  }

  publishProbe(e: ProbeEvent): Promise<void> {
    // The common case, called for every event a worker emits: room in the buffer.
    if (this.state === 'RUNNING' && this.buffered() < this.o.maxBuffered) {
      try {
        this.addProbe(e);
      } catch (err) {
        // An invalid id (empty) rejects the promise rather than throwing at the call site.
        return Promise.reject(asError(err));
      }
      return ACCEPTED;
    }
    return this.publishProbeWhenRoom(e);
  }

  private async publishProbeWhenRoom(e: ProbeEvent): Promise<void> {
    eventSubject(this.o.prefix, 'probes', e.sweep_id, e.trial_id); // an invalid id fails before the wait
    await this.waitForRoom();
    this.addProbe(e);
  }

  private addProbe(e: ProbeEvent): void {
    const full = this.packer.add(e);
    if (full !== undefined) this.push(full);
    this.armSealTimer();
  }

  async publishTrial(e: TrialEvent): Promise<void> {
    const subject = eventSubject(this.o.prefix, 'trials', e.sweep_id, e.trial_id);
    const m = { subject, msgId: trialMsgId(e), data: TrialEvent.encode(e).finish(), count: 1 };
    await this.waitForRoom();
    // The trial's probe events published before this event stay before it on the stream.
    const open = this.packer.sealTrial(e.sweep_id, e.trial_id);
    if (open !== undefined) this.push(open);
    this.push(m);
    this.armSealTimer();
  }

  private async waitForRoom(): Promise<void> {
    if (this.state !== 'RUNNING') throw new PhasesweepError('FAILED_PRECONDITION', 'publisher is closed');
    while (this.buffered() >= this.o.maxBuffered) {
      if (this.blockedSince === undefined) {
        this.blockedSince = Date.now();
        this.o.log(`publisher: ${this.buffered()} events buffered, blocking until NATS catches up`);
      }
      this.sealOpen();
      this.kick();
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
    }
    if (this.blockedSince !== undefined) {
      this.o.log(`publisher: unblocked after ${Date.now() - this.blockedSince} ms`);
      this.blockedSince = undefined;
    }
  }

  private push(m: OutboundMessage): void {
    this.queue.push(m);
    this.queuedEvents += m.count;
    if (this.queuedEvents >= this.o.maxBatch) this.kick();
  }

  private armSealTimer(): void {
    this.sealTimer ??= setTimeout(() => {
      this.sealTimer = undefined;
      this.sealOpen();
      this.kick();
    }, this.o.maxDelayMs).unref();
  }

  /** Queues every message still filling up. */
  private sealOpen(): void {
    for (const m of this.packer.sealAll()) this.push(m);
  }

  /** Starts the pump unless it is already running; it drains everything it can, then stops. */
  private kick(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pumping) return;
    this.pumping = true;
    this.pump()
      .catch((err: unknown) => this.o.log(`publisher: ${errorMessage(err)}`))
      .finally(() => {
        this.pumping = false;
        this.idleWaiters.splice(0).forEach((w) => w());
      });
  }

  private async pump(): Promise<void> {
    if (this.connected && this.spill !== undefined && this.spill.size > 0) await this.replay();
    while (this.queue.length > 0) {
      // A round: messages up to maxBatch events.
      let take = 0;
      let events = 0;
      while (take < this.queue.length && events < this.o.maxBatch) events += this.queue[take++]!.count;
      const round = this.queue.slice(0, take);
      // With a spill file, a round that just failed sends the next ones straight to disk instead
      // of waiting out another timeout; the periodic replay finds out when NATS is back.
      const tryNats = this.connected && (this.healthy || this.spill === undefined);
      const failed = new Set(tryNats ? await this.publishAll(round) : round);
      if (failed.size > 0 && !(await this.spillOut([...failed]))) {
        // Nowhere to put them: keep them at the front (callers block on the bound) and retry. The
        // same messages go again, so any the stream stored after all are dropped as duplicates.
        const kept = round.filter((m) => failed.has(m));
        this.queue.splice(0, take, ...kept);
        this.queuedEvents -= events - kept.reduce((n, m) => n + m.count, 0);
        this.releaseSpace();
        this.timer ??= setTimeout(() => this.kick(), RETRY_MS).unref();
        return;
      }
      this.queue.splice(0, take);
      this.queuedEvents -= events;
      this.releaseSpace();
    }
  }

  private releaseSpace(): void {
    const free = this.o.maxBuffered - this.buffered();
    this.spaceWaiters.splice(0, Math.max(0, free)).forEach((w) => w());
  }

  /** Publishes concurrently; returns the messages that were not acknowledged. */
  private async publishAll(batch: readonly OutboundMessage[]): Promise<OutboundMessage[]> {
    const js = this.js;
    if (js === undefined) return [...batch];
    const result = await js.publishRound(batch, this.o.publishTimeoutMs);
    const failed = result.failed.map((i) => batch[i]).filter((m) => m !== undefined);
    if (failed.length > 0) {
      this.o.log(`publisher: ${failed.length}/${batch.length} publishes failed (${result.firstError ?? ''})`);
    }
    this.healthy = failed.length === 0;
    return failed;
  }

  private async spillOut(messages: OutboundMessage[]): Promise<boolean> {
    if (this.spill === undefined) return false;
    const ok = await this.spill.append(messages);
    if (!ok) this.o.log(`publisher: spill file ${this.spill.path} is full (${this.spill.size} bytes)`);
    return ok;
  }

  /** Sends spilled events in order; what is not acknowledged stays in the file. */
  private async replay(): Promise<void> {
    const spill = this.spill;
    if (spill === undefined) return;
    const messages = await spill.readAll();
    let sent = 0;
    while (sent < messages.length) {
      const chunk = messages.slice(sent, sent + this.o.maxBatch);
      const failed = await this.publishAll(chunk);
      if (failed.length > 0) {
        await spill.replace([...failed, ...messages.slice(sent + chunk.length)]);
        return;
      }
      sent += chunk.length;
    }
    await spill.replace([]);
    if (messages.length > 0) this.o.log(`publisher: replayed ${messages.length} spilled events`);
  }

  private watch(nc: NatsConnection): void {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'reconnect') {
          this.connected = true;
          this.healthy = true;
          this.kick();
        } else if (s.type === 'disconnect') {
          this.connected = false;
        }
      }
    })().catch(() => undefined);
  }

  /** Attaches a connection that came up after creation (NATS was down at start). */
  attach(nc: NatsConnection): void {
    if (this.state !== 'RUNNING') {
      void nc.close();
      return;
    }
    this.nc = nc;
    this.js = new AckedPublisher(nc);
    this.connected = true;
    this.healthy = true;
    this.watch(nc);
    this.kick();
  }

  async flush(): Promise<void> {
    this.sealOpen();
    this.kick();
    // Every pump round wakes the waiters; a failed round is retried by its own timer.
    while (this.pumping || this.queue.length > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    if (this.state !== 'RUNNING') return;
    this.state = 'CLOSING';
    clearInterval(this.replayTimer);
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timeout = setTimeout(() => resolve('timeout'), this.o.closeTimeoutMs).unref();
    });
    const outcome = await Promise.race([this.flush().then(() => 'flushed' as const), timedOut]);
    clearTimeout(timeout);
    const left = this.buffered();
    this.state = 'CLOSED';
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.sealTimer !== undefined) clearTimeout(this.sealTimer);
    this.js?.close();
    await this.nc?.drain().catch(() => undefined);
    if (outcome === 'timeout' && left > 0) {
      throw new PhasesweepError(
        'UNAVAILABLE',
        `publisher closed with ${left} events undelivered: NATS unreachable and no room to spill`,
      );
    }
  }
}

async function tryConnect(natsUrl: string, waitForever: boolean): Promise<NatsConnection> {
  return connect({
    servers: natsUrl,
    name: 'phasesweep-publisher',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: waitForever,
  });
}

/** Creates the streams if needed; a failure is logged, not fatal, since publishes then spill. */
async function prepareStreams(
  nc: NatsConnection,
  prefix: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    await ensureStreams(await jetstreamManager(nc), prefix);
  } catch (err) {
    log(`publisher: cannot set up JetStream streams for "${prefix}": ${errorMessage(err)}`);
  }
}

export async function createNatsEventPublisher(o: NatsEventPublisherOptions): Promise<EventPublisher> {
  const opts = {
    natsUrl: o.natsUrl,
    prefix: validatePrefix(o.prefix ?? DEFAULT_PREFIX),
    maxBatch: o.maxBatch ?? 1000,
    // Capped so that a packed message stays near 16 KiB, which the ingester's pull sizes assume.
    maxEventsPerMessage: Math.min(MAX_EVENTS_PER_MESSAGE, Math.max(1, o.maxEventsPerMessage ?? 1)),
    maxDelayMs: o.maxDelayMs ?? 50,
    maxBuffered: o.maxBuffered ?? 50_000,
    maxSpillBytes: o.maxSpillBytes ?? 256 * 1024 ** 2,
    publishTimeoutMs: o.publishTimeoutMs ?? 5000,
    closeTimeoutMs: o.closeTimeoutMs ?? 30_000,
    log: o.log ?? ((line: string) => void process.stderr.write(`${line}\n`)),
  };
  if (opts.maxBuffered < opts.maxBatch) opts.maxBuffered = opts.maxBatch;
  const spill = o.spillDir === undefined ? undefined : await SpillFile.open(o.spillDir, opts.maxSpillBytes);
  let nc: NatsConnection | undefined;
  try {
    nc = await tryConnect(opts.natsUrl, false);
  } catch (err) {
    if (spill === undefined) {
      throw new PhasesweepError('UNAVAILABLE', `cannot reach NATS at ${opts.natsUrl}`, { cause: err });
    }
    opts.log(
      `publisher: NATS at ${opts.natsUrl} unreachable (${errorMessage(err)}); spilling to ${spill.path}`,
    );
  }
  if (nc !== undefined) await prepareStreams(nc, opts.prefix, opts.log);
  const js = nc === undefined ? undefined : new AckedPublisher(nc);
  const publisher = new NatsEventPublisher(opts, nc, js, spill);
  if (nc === undefined) {
    // Keep trying in the background; events spill meanwhile.
    tryConnect(opts.natsUrl, true).then(
      (conn) => prepareStreams(conn, opts.prefix, opts.log).then(() => publisher.attach(conn)),
      (err: unknown) => opts.log(`publisher: giving up on NATS: ${errorMessage(err)}`),
    );
  }
  return publisher;
}
