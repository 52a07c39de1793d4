// Outages with real servers this file starts for itself (scripts/services.sh in its own dir):
// ClickHouse stopped mid-stream must leave events unacked and land them exactly once later;
// NATS stopped under a running publisher and ingester must lose nothing (spill, then replay).
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeEvent } from '../../proto/index.js';
import { createIngester, createNatsEventPublisher, streamNames } from '../../pipeline/index.js';

const quiet = () => undefined;
const unique = (tag: string) => `${tag}_${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Our own nats-server and clickhouse-server, so stopping them disturbs no other test. */
class Servers {
  readonly dir = mkdtempSync(join(tmpdir(), 'ps-pipeline-outage-'));
  env: Record<string, string> = {};

  start(): void {
    execFileSync('bash', ['scripts/services.sh', 'start', this.dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.env = Object.fromEntries(
      readFileSync(join(this.dir, 'env'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
  }

  get natsUrl(): string {
    return this.env['NATS_URL'] ?? '';
  }

  get clickhouseUrl(): string {
    return this.env['CLICKHOUSE_URL'] ?? '';
  }

  async stop(name: 'nats' | 'clickhouse'): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, `${name}.pid`), 'utf8'));
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await sleep(100);
    }
    process.kill(pid, 'SIGKILL');
  }

  /** Same ports, same data directory: a restart, not a new server. */
  async restart(name: 'nats' | 'clickhouse'): Promise<void> {
    const port = (url: string) => new URL(url).port;
    const [cmd, args, health] =
      name === 'nats'
        ? [
            'nats-server',
            ['-a', '127.0.0.1', '-p', port(this.natsUrl), '-m', port(this.env['NATS_MONITOR_URL'] ?? '')],
            `${this.env['NATS_MONITOR_URL']}/healthz?js-enabled-only=true`,
          ]
        : [
            '/usr/sbin/clickhouse-server',
            [`--config-file=${join(this.dir, 'clickhouse', 'config.xml')}`],
            `${this.clickhouseUrl}/ping`,
          ];
    const fullArgs = name === 'nats' ? [...args, '-js', '-sd', join(this.dir, 'nats')] : args;
    const child = spawn(cmd, fullArgs, { detached: true, stdio: 'ignore' });
    child.unref();
    writeFileSync(join(this.dir, `${name}.pid`), String(child.pid));
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(health)).ok) return;
      } catch {
        // not up yet
      }
      await sleep(100);
    }
    throw new Error(`${name} did not come back`);
  }

  shutdown(): void {
    execFileSync('bash', ['scripts/services.sh', 'stop', this.dir], { stdio: 'ignore' });
  }
}

function probe(sweep: string, trial: string, epoch: number): ProbeEvent {
  return ProbeEvent.fromPartial({
    sweep_id: sweep,
    trial_id: trial,
    attempt: 1,
    epoch,
    seed: 3,
    time_ms: Date.now(),
    loss: epoch + 0.5,
  });
}

async function waitFor(what: string, done: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function landed(
  ch: ClickHouseClient,
  db: string,
  sweep: string,
): Promise<{ rows: number; keys: number }> {
  const rs = await ch.query({
    query: `SELECT count() AS rows, uniqExact(trial_id, epoch) AS keys FROM \`${db}\`.probe_events FINAL WHERE sweep_id = '${sweep}'`,
    format: 'JSONEachRow',
  });
  const [row] = await rs.json<{ rows: string; keys: string }>();
  return { rows: Number(row?.rows ?? 0), keys: Number(row?.keys ?? 0) };
}

async function ackFloor(natsUrl: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const names = streamNames(prefix);
    const info = await (await jetstreamManager(nc)).consumers.info(names.events, names.ingestConsumer);
    return info.ack_floor.stream_seq;
  } finally {
    await nc.close();
  }
}

describe('pipeline under outages', () => {
  const servers = new Servers();
  let ch: ClickHouseClient;

  beforeAll(() => {
    servers.start();
    ch = createClient({ url: servers.clickhouseUrl });
  });
  afterAll(async () => {
    await ch.close();
    servers.shutdown();
  });

  it('ClickHouse down mid-stream: nothing acked, then every event lands exactly once', async () => {
    const db = unique('ps_chdown');
    const prefix = unique('t');
    const sweep = unique('sweep');
    const { natsUrl, clickhouseUrl } = servers;
    const publisher = await createNatsEventPublisher({ natsUrl, prefix, maxDelayMs: 5, log: quiet });
    const ingester = await createIngester({
      natsUrl,
      clickhouseUrl,
      database: db,
      prefix,
      batchSize: 50,
      batchDelayMs: 20,
      log: quiet,
    });
    const running = ingester.run();

    for (let epoch = 0; epoch < 100; epoch++) await publisher.publishProbe(probe(sweep, 'a', epoch));
    await publisher.flush();
    await waitFor('first half ingested', () => ingester.stats.ingested === 100);
    await waitFor('first half acked', async () => (await ackFloor(natsUrl, prefix)) === 100);

    await servers.stop('clickhouse');
    for (let epoch = 100; epoch < 300; epoch++) await publisher.publishProbe(probe(sweep, 'a', epoch));
    for (let epoch = 0; epoch < 50; epoch++) await publisher.publishProbe(probe(sweep, 'b', epoch));
    await publisher.flush();
    await waitFor('failed inserts', () => ingester.stats.failedInserts >= 2);
    await sleep(1000);
    expect(ingester.stats.ingested).toBe(100);
    expect(await ackFloor(natsUrl, prefix)).toBe(100);

    await servers.restart('clickhouse');
    await waitFor('everything ingested after the restart', () => ingester.stats.ingested >= 350);
    await ingester.shutdown();
    await running;
    await publisher.close();
    expect(await landed(ch, db, sweep)).toEqual({ rows: 350, keys: 350 });
    expect(await ackFloor(natsUrl, prefix)).toBe(350);
  });

  it('NATS restart: the publisher spills without blocking, replays, and the ingester resumes', async () => {
    const db = unique('ps_natsdown');
    const prefix = unique('t');
    const sweep = unique('sweep');
    const spillDir = mkdtempSync(join(tmpdir(), 'ps-spill-'));
    const { natsUrl, clickhouseUrl } = servers;
    const publisher = await createNatsEventPublisher({
      natsUrl,
      prefix,
      spillDir,
      maxDelayMs: 5,
      publishTimeoutMs: 500,
      log: quiet,
    });
    const ingester = await createIngester({
      natsUrl,
      clickhouseUrl,
      database: db,
      prefix,
      batchSize: 50,
      batchDelayMs: 20,
      log: quiet,
    });
    const running = ingester.run();
    for (let epoch = 0; epoch < 100; epoch++) await publisher.publishProbe(probe(sweep, 'a', epoch));
    await publisher.flush();
    await waitFor('first events ingested', () => ingester.stats.ingested === 100);

    await servers.stop('nats');
    const started = Date.now();
    for (let epoch = 100; epoch < 400; epoch++) await publisher.publishProbe(probe(sweep, 'a', epoch));
    // Training never waits on NATS below the buffer bound.
    expect(Date.now() - started).toBeLessThan(500);
    await publisher.flush();
    const spillFile = join(spillDir, 'events.spill');
    expect(statSync(spillFile).size).toBeGreaterThan(0);

    await servers.restart('nats');
    await waitFor('spill replayed', () => statSync(spillFile).size === 0);
    await waitFor('everything ingested after the restart', () => ingester.stats.ingested >= 400);
    await publisher.close();
    await ingester.shutdown();
    await running;
    expect(await landed(ch, db, sweep)).toEqual({ rows: 400, keys: 400 });
  });
});
