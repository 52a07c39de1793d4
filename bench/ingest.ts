// Ingest benchmark: probe events through the real publisher, JetStream, ingester and ClickHouse.
// Prints one JSON object. Uses NATS_URL / CLICKHOUSE_URL when set, else starts its own servers
// with scripts/services.sh. Knobs (env): EVENTS, TRIALS, BATCH, RATE (events/s of the paced phase),
// FORMAT (RowBinary | JSONEachRow), PUBLISHERS (publisher connections), INGESTERS,
// EVENTS_PER_MESSAGE (probe events of one trial packed per NATS message; 1 = one event each).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProbeEvent } from '../proto/index.js';
import {
  createIngester,
  createNatsEventPublisher,
  type EventPublisher,
  type Ingester,
  type InsertFormat,
} from '../pipeline/index.js';
import { PROBE_NAMES } from '../spec/probes.js';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};

const EVENTS = env('EVENTS', 300_000);
const TRIALS = env('TRIALS', 100);
const BATCH = env('BATCH', 10_000);
const PUBLISHERS = env('PUBLISHERS', 2);
const INGESTERS = env('INGESTERS', 1);
const PER_MESSAGE = env('EVENTS_PER_MESSAGE', 50);
const FORMAT = (process.env['FORMAT'] ?? 'RowBinary') as InsertFormat;
const log = (line: string) => void process.stderr.write(`bench: ${line}\n`);

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

function event(sweep: string, i: number): ProbeEvent {
  const e: ProbeEvent = {
    sweep_id: sweep,
    trial_id: `trial-${String(i % TRIALS).padStart(4, '0')}`,
    attempt: 1,
    epoch: Math.floor(i / TRIALS),
    seed: i % TRIALS,
    time_ms: Date.now(),
    engine: 'tfjs',
    backend: 'wasm',
    worker_id: `w${i % 8}`,
  };
  for (const [k, p] of PROBE_NAMES.entries()) e[p] = Math.sin(i + k);
  return e;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

interface Phase {
  events: number;
  seconds: number;
  latencies: number[];
}

/** Where the ingesters' per-event latencies go; each phase swaps in its own array. */
let latencySink: number[] = [];

async function startIngesters(
  natsUrl: string,
  clickhouseUrl: string,
  database: string,
  prefix: string,
): Promise<Ingester[]> {
  const ingesters: Ingester[] = [];
  for (let i = 0; i < INGESTERS; i++) {
    ingesters.push(
      await createIngester({
        natsUrl,
        clickhouseUrl,
        database,
        prefix,
        batchSize: BATCH,
        batchDelayMs: 100,
        insertFormat: FORMAT,
        log: process.env['VERBOSE'] === '1' ? log : () => undefined,
        onBatch: (b) => {
          for (const t of b.eventTimesMs) latencySink.push(b.ackedAtMs - t);
        },
      }),
    );
  }
  return ingesters;
}

const ingested = (ingesters: Ingester[]) => ingesters.reduce((n, g) => n + g.stats.ingested, 0);

async function waitIngested(ingesters: Ingester[], target: number): Promise<void> {
  while (ingested(ingesters) < target) await new Promise((r) => setTimeout(r, 20));
}

/** Publishes `count` events from several publishers, optionally paced to `rate` events/s. */
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
        if (rate !== undefined && (i - from) % 1000 < publishers.length) {
          const due = start + ((i - from) / rate) * 1000;
          const wait = due - Date.now();
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
  const prefix = `bench_${tag}`;
  const database = `bench_${tag}`;
  const sweep = `sweep-${tag}`;
  try {
    const publishers = await Promise.all(
      Array.from({ length: PUBLISHERS }, () =>
        createNatsEventPublisher({
          natsUrl,
          prefix,
          maxBatch: 5000,
          maxBuffered: 100_000,
          maxEventsPerMessage: PER_MESSAGE,
          log,
        }),
      ),
    );

    // 1. Publish a backlog with no ingester: the publisher's own rate.
    let t0 = performance.now();
    await publish(publishers, sweep, 0, EVENTS);
    const publishSeconds = (performance.now() - t0) / 1000;
    log(`published ${EVENTS} in ${publishSeconds.toFixed(2)} s`);

    // 2. Drain the backlog: the ingester's own rate (NATS → ClickHouse).
    const ingesters = await startIngesters(natsUrl, clickhouseUrl, database, prefix);
    t0 = performance.now();
    const runs = ingesters.map((g) => g.run());
    await waitIngested(ingesters, EVENTS);
    const drain: Phase = { events: EVENTS, seconds: (performance.now() - t0) / 1000, latencies: [] };
    log(`drained ${EVENTS} in ${drain.seconds.toFixed(2)} s`);

    // 3. End to end at full speed: publishers and ingesters together.
    latencySink = [];
    t0 = performance.now();
    await publish(publishers, sweep, EVENTS, EVENTS);
    await waitIngested(ingesters, 2 * EVENTS);
    const e2e: Phase = { events: EVENTS, seconds: (performance.now() - t0) / 1000, latencies: latencySink };
    log(`end to end ${EVENTS} in ${e2e.seconds.toFixed(2)} s`);

    // 4. Paced: a steady rate below capacity, where latency means latency and not backlog.
    const rate = env('RATE', Math.round(0.7 * Math.min(EVENTS / e2e.seconds, 200_000)));
    const pacedCount = Math.min(EVENTS, rate * 10);
    latencySink = [];
    t0 = performance.now();
    await publish(publishers, sweep, 2 * EVENTS, pacedCount, rate);
    await waitIngested(ingesters, 2 * EVENTS + pacedCount);
    const paced: Phase = {
      events: pacedCount,
      seconds: (performance.now() - t0) / 1000,
      latencies: latencySink,
    };
    log(`paced ${pacedCount} at ${rate}/s in ${paced.seconds.toFixed(2)} s`);

    await Promise.all(ingesters.map((g) => g.shutdown()));
    await Promise.all(runs);
    await Promise.all(publishers.map((p) => p.close()));

    const lat = (p: Phase) => {
      const sorted = Float64Array.from(p.latencies).sort();
      return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
    };
    const e2eLat = lat(e2e);
    const pacedLat = lat(paced);
    process.stdout.write(
      `${JSON.stringify(
        {
          events_per_s: Math.round(e2e.events / e2e.seconds),
          latency_p50_ms: pacedLat.p50,
          latency_p99_ms: pacedLat.p99,
          latency_rate_events_per_s: rate,
          full_speed_latency_p50_ms: e2eLat.p50,
          full_speed_latency_p99_ms: e2eLat.p99,
          publish_events_per_s: Math.round(EVENTS / publishSeconds),
          ingest_drain_events_per_s: Math.round(drain.events / drain.seconds),
          events: EVENTS,
          trials: TRIALS,
          batch: BATCH,
          publishers: PUBLISHERS,
          events_per_message: PER_MESSAGE,
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

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
