// Moves events from the JetStream events stream into ClickHouse: a durable pull consumer,
// batches cut by size or age, one insert per table per batch, acks only after the insert.
// Undecodable messages go to the dead-letter stream; an unreachable ClickHouse means backoff
// and redelivery, never an ack.
import type { ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { TrialEvent } from '../proto/index.js';
import { errorMessage, PhasesweepError } from '../spec/errors.js';
import { backoffDelay } from './backoff.js';
import { createClickHouseClient, migrateWithClient } from './clickhouse-migrations.js';
import { ClickHouseSink, type InsertFormat } from './clickhouse-sink.js';
import { quoteIdent } from './clickhouse-sql.js';
import { AttemptFence } from './attempt-fence.js';
import { decodeEventMessageInto } from './event-decoding.js';
import { ProbeRows } from './probe-row-decoder.js';
import { BATCH_HEADER } from './outbound.js';
import { ensureIngestConsumer, ensureStreams } from './streams.js';
import { DEFAULT_PREFIX, deadLetterSubject, streamNames, validatePrefix } from './subjects.js';

export interface IngesterOptions {
  natsUrl: string;
  clickhouseUrl: string;
  database: string;
  prefix?: string;
  /** Events per insert (default 10 000). */
  batchSize?: number;
  /** Longest a message waits for its batch to fill (default 200 ms). */
  batchDelayMs?: number;
  signal?: AbortSignal;
  /** Inserts in flight at once (default 2). */
  maxInFlight?: number;
  /** How long shutdown() waits for in-flight inserts before giving up on them (default 15 s). */
  graceMs?: number;
  /** ClickHouse insert format (default RowBinary). */
  insertFormat?: InsertFormat;
  /** Redelivery delay of an unacked message (default 60 s). */
  ackWaitMs?: number;
  log?: (line: string) => void;
  /**
   * Called after each batch is inserted and acked: event times, for latency measurements
   * (`eventTimesMs` is only valid during the call: its buffer is reused).
   */
  onBatch?: (batch: { events: number; eventTimesMs: Float64Array; ackedAtMs: number }) => void;
}

export interface IngesterStats {
  ingested: number;
  deadLettered: number;
  batches: number;
  failedInserts: number;
  /** Probe events of superseded attempts, not written (a stale worker's late messages). */
  fenced: number;
}

export interface Ingester {
  /** Consumes until shutdown() or the signal; resolves once drained and stopped. */
  run(): Promise<void>;
  /** Idempotent: stops consuming, finishes in-flight batches (within the grace), closes. */
  shutdown(): Promise<void>;
  readonly stats: Readonly<IngesterStats>;
}

const PULL_MAX_MESSAGES = 1024;

type IngesterState = 'INITIALIZED' | 'RUNNING' | 'DRAINING' | 'STOPPED';

/** The messages of the next insert, decoded as they arrived. */
class PendingBatch {
  /** Events the messages carry (poison included): what the batch size counts. */
  events = 0;
  readonly probes: ProbeRows;
  readonly trials: TrialEvent[] = [];
  readonly poison: Array<{ msg: JsMsg; reason: string }> = [];
  /** Messages to ack once the rows are in. */
  readonly good: JsMsg[] = [];

  constructor(probes: ProbeRows) {
    this.probes = probes;
  }
}

type Settings = Required<Omit<IngesterOptions, 'signal' | 'onBatch'>> &
  Pick<IngesterOptions, 'signal' | 'onBatch'>;

class JetStreamIngester implements Ingester {
  readonly stats: IngesterStats = { ingested: 0, deadLettered: 0, batches: 0, failedInserts: 0, fenced: 0 };
  /** Drops probe events of attempts older than the trial's latest lease (stale workers). */
  private readonly fence = new AttemptFence();
  private state: IngesterState = 'INITIALIZED';
  private messages: ConsumerMessages | undefined;
  private pending: PendingBatch | undefined;
  /**
   * Row buffers of finished batches, for the next ones: a batch's rows take tens of megabytes
   * outside the JS heap, and allocating them anew each time makes V8 collect garbage over and over.
   */
  private readonly spareRows: ProbeRows[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private failures = 0;
  private pausedUntil = 0;
  private schemaReady = false;
  private readonly aborter = new AbortController();
  private stopped: Promise<void> | undefined;
  private readonly sink: ClickHouseSink;

  constructor(
    private readonly o: Settings,
    private readonly nc: NatsConnection,
    private readonly ch: ClickHouseClient,
  ) {
    this.sink = new ClickHouseSink(ch, o.database, o.insertFormat);
  }

  private transition(next: IngesterState): void {
    this.o.log(`ingester: ${this.state} → ${next}`);
    this.state = next;
  }

  private isRunning(): boolean {
    return this.state === 'RUNNING';
  }

  async run(): Promise<void> {
    if (this.state !== 'INITIALIZED')
      throw new PhasesweepError('FAILED_PRECONDITION', `ingester is ${this.state}`);
    this.transition('RUNNING');
    const onAbort = () => void this.shutdown();
    if (this.o.signal?.aborted === true) onAbort();
    this.o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this.isRunning()) await this.consume();
    } finally {
      this.o.signal?.removeEventListener('abort', onAbort);
      await this.shutdown();
    }
  }

  private async consume(): Promise<void> {
    const names = streamNames(this.o.prefix);
    const consumer = await jetstream(this.nc).consumers.get(names.events, names.ingestConsumer);
    // Small pulls, refilled as they drain: one pull of thousands of packed messages overruns the
    // server's per-connection write buffer (64 MiB), which drops them as a slow consumer until
    // ack_wait redelivers. (Byte-bounded pulls stall against nats-server 2.9: the client and the
    // server count bytes differently and the client waits for bytes that never come.)
    const messages = await consumer.consume({ max_messages: Math.min(this.o.batchSize, PULL_MAX_MESSAGES) });
    this.messages = messages;
    // shutdown() may have run while we were connecting.
    if (!this.isRunning()) await messages.close();
    for await (const m of messages) {
      // Decoded on arrival, a message at a time: decoding a whole batch at the cut would hold up
      // the event loop, and with it the streaming of the insert in flight.
      this.pending ??= new PendingBatch(this.spareRows.pop() ?? new ProbeRows(this.o.batchSize));
      this.add(this.pending, m);
      if (this.pending.events >= this.o.batchSize) await this.cut();
      else this.timer ??= setTimeout(() => void this.cut(), this.o.batchDelayMs).unref();
    }
    await this.cut();
  }

  private add(batch: PendingBatch, m: JsMsg): void {
    const batched = m.headers?.has(BATCH_HEADER) === true;
    // Batches are cut by events, not messages: a packed message carries many.
    batch.events += batched ? Number(m.headers?.get(BATCH_HEADER)) || 1 : 1;
    const d = decodeEventMessageInto(this.o.prefix, m.subject, m.data, batched, batch.probes, this.fence);
    if (d.kind === 'probes') {
      this.stats.fenced += d.fenced;
    } else if (d.kind === 'trial') {
      this.fence.observe(d.event);
      batch.trials.push(d.event);
    } else {
      batch.poison.push({ msg: m, reason: d.reason });
      return;
    }
    batch.good.push(m);
  }

  /** Hands the pending messages to an insert; waits while too many inserts are in flight. */
  private async cut(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.pending;
    if (batch === undefined) return;
    this.pending = undefined;
    while (this.inFlight.size >= this.o.maxInFlight) await Promise.race(this.inFlight);
    const job = this.process(batch)
      .catch((err: unknown) => this.o.log(`ingester: batch failed: ${errorMessage(err)}`))
      .finally(() => {
        batch.probes.clear();
        this.spareRows.push(batch.probes);
      });
    this.inFlight.add(job);
    void job.finally(() => this.inFlight.delete(job));
  }

  private async process({ probes, trials, poison, good }: PendingBatch): Promise<void> {
    if (poison.length > 0) await this.deadLetter(poison);
    if (good.length === 0) return;

    const wait = this.pausedUntil - Date.now();
    if (wait > 0) await sleep(wait, this.aborter.signal);
    try {
      if (!this.schemaReady) {
        await migrateWithClient(this.ch, this.o.database);
        this.schemaReady = true;
      }
      await this.sink.insert(probes, trials, this.aborter.signal);
    } catch (err) {
      this.failures++;
      this.stats.failedInserts++;
      const delay = backoffDelay(this.failures);
      this.pausedUntil = Date.now() + delay;
      this.o.log(
        `ingester: insert of ${probes.count + trials.length} events failed (${errorMessage(err)}); redelivery in ~${delay} ms`,
      );
      // Nothing is acked: the server hands these back after the delay (or ack_wait, if this nak is lost).
      for (const m of good) m.nak(delay);
      return;
    }
    this.failures = 0;
    for (const m of good) m.ack();
    this.stats.ingested += probes.count + trials.length;
    this.stats.batches++;
    if (this.o.onBatch !== undefined) {
      for (const t of trials) probes.addTime(t.time_ms);
      const eventTimesMs = probes.eventTimesMs();
      this.o.onBatch({ events: eventTimesMs.length, eventTimesMs, ackedAtMs: Date.now() });
    }
  }

  /** Publishes each poison message to the dead-letter stream, then acks it; a failed publish leaves it unacked. */
  private async deadLetter(poison: Array<{ msg: JsMsg; reason: string }>): Promise<void> {
    const js = jetstream(this.nc);
    await Promise.all(
      poison.map(async ({ msg, reason }) => {
        const h = headers();
        h.set('Phasesweep-Reason', reason.slice(0, 1000));
        h.set('Phasesweep-Subject', msg.subject);
        h.set('Phasesweep-Stream-Seq', String(msg.seq));
        try {
          await js.publish(deadLetterSubject(this.o.prefix, msg.subject), msg.data, {
            headers: h,
            // The same message redelivered is dead-lettered once.
            msgID: `deadletter:${msg.info.stream}:${msg.seq}`,
          });
        } catch (err) {
          this.o.log(`ingester: dead-lettering ${msg.subject} failed (${errorMessage(err)}); will retry`);
          msg.nak(backoffDelay(1));
          return;
        }
        msg.ack();
        this.stats.deadLettered++;
        this.o.log(`ingester: dead-lettered ${msg.subject} #${msg.seq}: ${reason}`);
      }),
    );
  }

  shutdown(): Promise<void> {
    this.stopped ??= this.stop();
    return this.stopped;
  }

  private async stop(): Promise<void> {
    if (this.state === 'INITIALIZED' || this.state === 'RUNNING') this.transition('DRAINING');
    await this.messages?.close().catch(() => undefined);
    await this.cut();
    const grace = sleep(this.o.graceMs, undefined).then(() => 'timeout' as const);
    const drained = Promise.all(this.inFlight).then(() => 'drained' as const);
    if ((await Promise.race([drained, grace])) === 'timeout') {
      this.o.log(
        `ingester: ${this.inFlight.size} inserts still running after ${this.o.graceMs} ms; abandoning them`,
      );
      this.aborter.abort(new PhasesweepError('ABORTED', 'ingester shut down'));
      await drained;
    }
    await this.nc.drain().catch(() => undefined);
    await this.ch.close();
    this.transition('STOPPED');
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Insert batch defaults. ClickHouse pays per insert (each is a new part of ~100 files), so big
 * batches at a bounded wait: 100 000 events or 250 ms, whichever comes first
 * (`npm run bench:ingest` runs with these).
 */
export const INGEST_DEFAULTS = { batchSize: 100_000, batchDelayMs: 250 } as const;

export async function createIngester(o: IngesterOptions): Promise<Ingester> {
  const settings: Settings = {
    natsUrl: o.natsUrl,
    clickhouseUrl: o.clickhouseUrl,
    database: o.database,
    prefix: validatePrefix(o.prefix ?? DEFAULT_PREFIX),
    batchSize: o.batchSize ?? INGEST_DEFAULTS.batchSize,
    batchDelayMs: o.batchDelayMs ?? INGEST_DEFAULTS.batchDelayMs,
    maxInFlight: o.maxInFlight ?? 2,
    graceMs: o.graceMs ?? 15_000,
    insertFormat: o.insertFormat ?? 'RowBinary',
    ackWaitMs: o.ackWaitMs ?? 60_000,
    log: o.log ?? ((line: string) => void process.stderr.write(`${line}\n`)),
    signal: o.signal,
    onBatch: o.onBatch,
  };
  quoteIdent(settings.database);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: settings.natsUrl, name: 'phasesweep-ingester', maxReconnectAttempts: -1 });
  } catch (err) {
    throw new PhasesweepError('UNAVAILABLE', `cannot reach NATS at ${settings.natsUrl}`, { cause: err });
  }
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, settings.prefix);
    await ensureIngestConsumer(jsm, settings.prefix, {
      ackWaitMs: settings.ackWaitMs,
      // Bounds what the server hands out unacked: the batch being filled, those in flight, one prefetched.
      maxAckPending: settings.batchSize * (settings.maxInFlight + 2),
    });
  } catch (err) {
    await nc.close();
    throw err instanceof PhasesweepError
      ? err
      : new PhasesweepError('UNAVAILABLE', `JetStream setup failed: ${errorMessage(err)}`, { cause: err });
  }
  // ClickHouse may be down now; the schema is applied before the first insert, with the same retries.
  const ch = createClickHouseClient(settings.clickhouseUrl);
  return new JetStreamIngester(settings, nc, ch);
}
