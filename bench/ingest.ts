// Ingest benchmark: probe events through the real publisher, JetStream, ingester and ClickHouse.
// Prints one JSON object. Uses NATS_URL / CLICKHOUSE_URL when set, else starts its own servers
// with scripts/services.sh. The ingesters run in worker threads (in production they are
// separate processes from the workers that publish). Knobs (env): EVENTS, TRIALS, BATCH,
// BATCH_DELAY_MS (longest an event waits for its insert batch to fill),
// RATE (events/s of the paced phase), FORMAT (RowBinary | JSONEachRow), PUBLISHERS,
// INGESTERS, EVENTS_PER_MESSAGE (probe events of one trial per NATS message; 1 = one each).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { ProbeEvent } from '../proto/index.js';
import {
  createIngester,
  createNatsEventPublisher,
  INGEST_DEFAULTS,
  type EventPublisher,
  type InsertFormat,
} from '../pipeline/index.js';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

const EVENTS = env('EVENTS', 2_000_000);
const TRIALS = env('TRIALS', 100);
// The ingester's own defaults (why those: INGEST_DEFAULTS).
const BATCH = env('BATCH', INGEST_DEFAULTS.batchSize);
const BATCH_DELAY_MS = env('BATCH_DELAY_MS', INGEST_DEFAULTS.batchDelayMs);
const PUBLISHERS = env('PUBLISHERS', 1);
const INGESTERS = env('INGESTERS', 1);
const PER_MESSAGE = env('EVENTS_PER_MESSAGE', 50);
const FORMAT = (process.env['FORMAT'] ?? 'RowBinary') as InsertFormat;
const log = (line: string) => void process.stderr.write(`bench: ${line}\n`);

interface IngesterJob {
  natsUrl: string;
  clickhouseUrl: string;
  database: string;
  prefix: string;
}
type FromIngester = { type: 'batch'; ingested: number; latencies: Float64Array } | { type: 'stopped' };

/** Worker-thread side: one ingester, reporting each acked batch's latencies to the main thread. */
async function ingesterThread(job: IngesterJob): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const ingester = await createIngester({
    ...job,
    batchSize: BATCH,
    batchDelayMs: BATCH_DELAY_MS,
    insertFormat: FORMAT,
    log: process.env['VERBOSE'] === '1' ? log : () => undefined,
    onBatch: (b) => {
      const latencies = new Float64Array(b.eventTimesMs.length);
      for (let i = 0; i < latencies.length; i++) latencies[i] = b.ackedAtMs - b.eventTimesMs[i]!;
      const msg: FromIngester = { type: 'batch', ingested: ingester.stats.ingested, latencies };
      port.postMessage(msg, [latencies.buffer]);
    },
  });
  port.once('message', () => void ingester.shutdown());
  await ingester.run();
  port.postMessage({ type: 'stopped' } satisfies FromIngester);
}

class IngesterPool {
  private readonly counts: number[];
  /** Where each batch's latencies go; each phase swaps in its own list. */
  sink: Float64Array[] = [];
  private readonly stopped: Array<Promise<void>> = [];

  constructor(job: IngesterJob) {
    this.counts = new Array<number>(INGESTERS).fill(0);
    this.workers = Array.from({ length: INGESTERS }, (_, k) => {
      const w = new Worker(new URL(import.meta.url), { workerData: job });
      this.stopped.push(
        new Promise((resolve, reject) => {
          w.on('message', (m: FromIngester) => {
            if (m.type === 'stopped') resolve();
            else {
              this.counts[k] = m.ingested;
              this.sink.push(m.latencies);
            }
          });
          w.on('error', (err) => {
            this.failed = err;
            reject(err);
          });
        }),
      );
      return w;
    });
  }

  private readonly workers: Worker[];
  private failed: Error | undefined;

  get ingested(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  async waitFor(target: number): Promise<void> {
    while (this.ingested < target) {
      if (this.failed !== undefined) throw this.failed;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    for (const w of this.workers) w.postMessage('stop');
    await Promise.all(this.stopped);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function servers(): { natsUrl: string; clickhouseUrl: string; stop: () => void } {
  const natsUrl = process.env['NATS_URL'];
  const clickhouseUrl = process.env['CLICKHOUSE_URL'];
  if (natsUrl !== undefined && clickhouseUrl !== undefined)
    return { natsUrl, clickhouseUrl, stop: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-bench-'));
  execFileSync('bash', ['scripts/services.sh', 'start', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const vars = Object.fromEntries(
    readFileSync(join(dir, 'env'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
  return {
    natsUrl: vars['NATS_URL'] ?? '',
    clickhouseUrl: vars['CLICKHOUSE_URL'] ?? '',
    stop: () => execFileSync('bash', ['scripts/services.sh', 'stop', dir], { stdio: 'ignore' }),
  };
}

// Probe values come from a table so that generating events costs the benchmark next to nothing.
const VALUES = Float64Array.from({ length: 4096 }, (_, i) => Math.sin(i) * 10);
const TRIAL_IDS = Array.from({ length: TRIALS }, (_, t) => `trial-${String(t).padStart(4, '0')}`);

function event(sweep: string, i: number): ProbeEvent {
  const v = (k: number) => VALUES[(i + k) & 4095];
  return {
    sweep_id: sweep,
    trial_id: TRIAL_IDS[i % TRIALS] ?? '',
    attempt: 1,
    epoch: Math.floor(i / TRIALS),
    seed: i % TRIALS,
    time_ms: Date.now(),
    engine: 'tfjs',
    backend: 'wasm',
    worker_id: 'w1',
    scalars: {},
    loss: v(0),
    train_acc: v(1),
    val_loss: v(2),
    val_acc: v(3),
    grad_norm: v(4),
    grad_norm_total: v(5),
    emb_norm: v(6),
    drift: v(7),
    rel_drift: v(8),
    stability: v(9),
    mean_pairwise_cos: v(10),
    top5_sv_share: v(11),
    eff_rank: v(12),
    spectral_entropy: v(13),
    stable_rank: v(14),
    grad_drift_ratio: v(15),
    cka_prev: v(16),
    noise_sensitivity: v(17),
    cluster_purity: v(18),
  };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function latency(batches: Float64Array[]): { p50: number; p99: number } {
  const sorted = new Float64Array(batches.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of batches) {
    sorted.set(b, at);
    at += b.length;
  }
  sorted.sort();
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/** Publishes `count` events spread over the publishers, optionally paced to `rate` events/s. */
async function publish(
  publishers: EventPublisher[],
  sweep: string,
  from: number,
  count: number,
  rate?: number,
) {
  const start = Date.now();
  await Promise.all(
    publishers.map(async (p, k) => {
      for (let i = from + k; i < from + count; i += publishers.length) {
        if (rate !== undefined && (i - from) % 500 < publishers.length) {
          const wait = start + ((i - from) / rate) * 1000 - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        await p.publishProbe(event(sweep, i));
      }
      await p.flush();
    }),
  );
}

async function main(): Promise<void> {
  const { natsUrl, clickhouseUrl, stop } = servers();
  const tag = randomBytes(3).toString('hex');
  const job: IngesterJob = { natsUrl, clickhouseUrl, database: `bench_${tag}`, prefix: `bench_${tag}` };
  const sweep = `sweep-${tag}`;
  try {
    const publishers = await Promise.all(
      Array.from({ length: PUBLISHERS }, () =>
        createNatsEventPublisher({
          natsUrl,
          prefix: job.prefix,
          maxBatch: 5000,
          maxBuffered: 100_000,
          maxEventsPerMessage: PER_MESSAGE,
          log,
        }),
      ),
    );

    // 1. A backlog with no ingester running: the publishers' own rate.
    let t0 = performance.now();
    await publish(publishers, sweep, 0, EVENTS);
    const publishSeconds = (performance.now() - t0) / 1000;
    log(`published ${EVENTS} in ${publishSeconds.toFixed(2)} s`);

    // 2. Drain it: the ingesters' own rate (NATS → ClickHouse).
    t0 = performance.now();
    const pool = new IngesterPool(job);
    await pool.waitFor(EVENTS);
    const drainSeconds = (performance.now() - t0) / 1000;
    log(`drained ${EVENTS} in ${drainSeconds.toFixed(2)} s`);

    // 3. End to end at full speed: publishing and ingesting at once.
    pool.sink = [];
    t0 = performance.now();
    await publish(publishers, sweep, EVENTS, EVENTS);
    await pool.waitFor(2 * EVENTS);
    const e2eSeconds = (performance.now() - t0) / 1000;
    const e2eLatency = latency(pool.sink);
    log(`end to end ${EVENTS} in ${e2eSeconds.toFixed(2)} s`);

    // 4. Paced below capacity, where latency is latency and not a growing backlog.
    const rate = env('RATE', Math.round(0.8 * Math.min(EVENTS / e2eSeconds, 250_000)));
    const pacedCount = Math.min(EVENTS, rate * 10);
    pool.sink = [];
    t0 = performance.now();
    await publish(publishers, sweep, 2 * EVENTS, pacedCount, rate);
    log(
      `paced publishing done in ${((performance.now() - t0) / 1000).toFixed(2)} s; ingested ${pool.ingested - 2 * EVENTS}`,
    );
    await pool.waitFor(2 * EVENTS + pacedCount);
    const pacedLatency = latency(pool.sink);
    log(`paced ${pacedCount} at ${rate}/s in ${((performance.now() - t0) / 1000).toFixed(2)} s`);

    await pool.stop();
    await Promise.all(publishers.map((p) => p.close()));
    process.stdout.write(
      `${JSON.stringify(
        {
          events_per_s: Math.round(EVENTS / e2eSeconds),
          latency_p50_ms: pacedLatency.p50,
          latency_p99_ms: pacedLatency.p99,
          latency_at_events_per_s: rate,
          full_speed_latency_p50_ms: e2eLatency.p50,
          full_speed_latency_p99_ms: e2eLatency.p99,
          publish_only_events_per_s: Math.round(EVENTS / publishSeconds),
          ingest_only_events_per_s: Math.round(EVENTS / drainSeconds),
          events: EVENTS,
          trials: TRIALS,
          batch: BATCH,
          batch_delay_ms: BATCH_DELAY_MS,
          events_per_message: PER_MESSAGE,
          publishers: PUBLISHERS,
          ingesters: INGESTERS,
          format: FORMAT,
          cores: cpus().length,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    stop();
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
} else {
  ingesterThread(workerData as IngesterJob).catch((err: unknown) => {
    process.stderr.write(
      `bench ingester: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  });
}
