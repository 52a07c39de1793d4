// /metrics, /healthz and /readyz of real coordinator, worker and ingester processes in cluster
// mode: a small sweep runs through NATS into ClickHouse, then every counter is read back.
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runCli, startCli, type CliProcess } from '../support/processes.js';

const SPEC = `
name: metrics
seeds: 2
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 6 }
  probes: { probe_set: 8 }
`;
const TRIALS = 2;
const EPOCHS = 6;

/** The value of one sample line (`name{labels} value`), summed over matching lines. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
    seen = true;
  }
  return seen ? sum : Number.NaN;
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Prometheus metrics and health endpoints', () => {
  const natsUrl = inject('natsUrl');
  const clickhouseUrl = inject('clickhouseUrl');
  const procs: CliProcess[] = [];

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });

  it('coordinator, worker and ingester count leases, heartbeats, epochs, events, lag and dead letters', async () => {
    const prefix = `m${randomBytes(3).toString('hex')}`;
    const database = `metrics_${randomBytes(4).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-metrics-'));
    const specFile = join(dir, 'sweep.yaml');
    writeFileSync(specFile, SPEC);
    const common = ['--nats', natsUrl, '--prefix', prefix];

    const coordinator = startCli([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--lease-ttl-ms',
      '900',
      '--http',
      '127.0.0.1:0',
      '--live-curves',
      ...common,
    ]);
    procs.push(coordinator);
    const address = (await coordinator.waitFor(/listening on (\S+)/))[1]!;
    const coordUrl = (await coordinator.waitFor(/live page and metrics on (http:\S+)\//))[1]!;
    const ingest = startCli([
      'ingest',
      '--clickhouse',
      clickhouseUrl,
      '--database',
      database,
      '--batch-delay',
      '20',
      '--http',
      '127.0.0.1:0',
      ...common,
    ]);
    procs.push(ingest);
    const ingestUrl = (await ingest.waitFor(/ingest: metrics on (http:\S+)\/metrics/))[1]!;
    const worker = startCli([
      'worker',
      '--coordinator',
      address,
      '--engine',
      'wasm',
      '--id',
      'mw1',
      '--http',
      '127.0.0.1:0',
      ...common,
    ]);
    procs.push(worker);
    const workerUrl = (await worker.waitFor(/metrics on (http:\S+)\/metrics/))[1]!;

    for (const base of [coordUrl, ingestUrl, workerUrl]) {
      expect((await get(`${base}/healthz`)).status).toBe(200);
      expect((await get(`${base}/nope`)).status).toBe(404);
    }
    expect((await get(`${coordUrl}/readyz`)).status).toBe(200);
    expect((await get(`${ingestUrl}/readyz`)).status).toBe(200);
    await until(
      'worker ready',
      () => get(`${workerUrl}/readyz`),
      (r) => r.status === 200,
    );

    const submitted = await runCli(['sweep', 'submit', specFile, '--coordinator', address, '--json']);
    expect(submitted.code, submitted.output).toBe(0);
    const status = await runCli([
      'sweep',
      'status',
      'metrics',
      '--coordinator',
      address,
      '--wait',
      '--timeout-s',
      '60',
      '--json',
    ]);
    expect(status.code, status.output).toBe(0);

    const c = (await get(`${coordUrl}/metrics`)).text;
    expect(sample(c, 'phasesweep_coordinator_leases_granted_total')).toBe(TRIALS);
    expect(sample(c, 'phasesweep_coordinator_leases_expired_total')).toBe(0);
    expect(sample(c, 'phasesweep_coordinator_heartbeats_total')).toBeGreaterThan(0);
    expect(sample(c, 'phasesweep_coordinator_trial_events_total', { status: 'completed' })).toBe(TRIALS);
    expect(sample(c, 'phasesweep_coordinator_workers')).toBe(1);
    expect(sample(c, 'phasesweep_sweep_trials', { sweep: 'metrics', state: 'completed' })).toBe(TRIALS);
    expect(sample(c, 'phasesweep_sweep_epochs_done', { sweep: 'metrics' })).toBe(TRIALS * EPOCHS);
    expect(sample(c, 'phasesweep_sweep_epochs_planned', { sweep: 'metrics' })).toBe(TRIALS * EPOCHS);
    expect(sample(c, 'process_cpu_seconds_total')).toBeGreaterThan(0);

    const w = (await get(`${workerUrl}/metrics`)).text;
    expect(sample(w, 'phasesweep_worker_epochs_total')).toBe(TRIALS * EPOCHS);
    expect(sample(w, 'phasesweep_worker_events_published_total')).toBe(TRIALS * EPOCHS);
    expect(sample(w, 'phasesweep_worker_trials_total', { outcome: 'completed' })).toBe(TRIALS);
    expect(sample(w, 'phasesweep_worker_connected')).toBe(1);
    expect(sample(w, 'phasesweep_worker_heartbeats_sent_total')).toBeGreaterThan(0);

    // --live-curves: the coordinator heard the workers' NATS events for its live page.
    const live = JSON.parse((await get(`${coordUrl}/live/snapshot?sweep=metrics&probe=loss`)).text) as {
      has_curves: boolean;
      levels: { level: string; trials: number; curve: number[][] }[];
    };
    expect(live.has_curves).toBe(true);
    expect(live.levels.map((l) => [l.level, l.trials, l.curve.length])).toEqual([['(none)', TRIALS, EPOCHS]]);
    expect(live.levels[0]!.curve.map((p) => p[4])).toEqual(Array<number>(EPOCHS).fill(TRIALS));

    // Probe events from the worker plus leased and completed trial events from the coordinator.
    const events = TRIALS * EPOCHS + 2 * TRIALS;
    const i = await until(
      'all events ingested',
      async () => (await get(`${ingestUrl}/metrics`)).text,
      (t) => sample(t, 'phasesweep_ingest_events_total') >= events,
    );
    expect(sample(i, 'phasesweep_ingest_events_total')).toBe(events);
    expect(sample(i, 'phasesweep_ingest_lag_seconds_count')).toBe(events);
    expect(sample(i, 'phasesweep_ingest_lag_seconds_sum') / events).toBeLessThan(30);
    expect(sample(i, 'phasesweep_ingest_batches_total')).toBeGreaterThan(0);
    expect(sample(i, 'phasesweep_ingest_last_batch_timestamp_seconds')).toBeGreaterThan(
      Date.now() / 1000 - 120,
    );
    expect(sample(i, 'phasesweep_ingest_dead_lettered_total')).toBe(0);

    const nc = await connect({ servers: natsUrl });
    try {
      await jetstream(nc).publish(`${prefix}.probes.metrics.t1`, new Uint8Array([0xff, 0xff, 0xff, 0x0f]));
    } finally {
      await nc.close();
    }
    await until(
      'a dead letter counted',
      async () => (await get(`${ingestUrl}/metrics`)).text,
      (t) => sample(t, 'phasesweep_ingest_dead_lettered_total') === 1,
    );

    // Draining processes stop answering ready; a stopped worker's coordinator sees it leave.
    await worker.stop();
    await until(
      'worker gone',
      async () => (await get(`${coordUrl}/metrics`)).text,
      (t) => sample(t, 'phasesweep_coordinator_workers') === 0,
    );
  });
});
