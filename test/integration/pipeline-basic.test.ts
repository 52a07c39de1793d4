// End to end through real servers: publisher → JetStream → ingester → ClickHouse, with
// duplicates, a retried attempt, trial events, poison messages and repeated migrations.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ProbeEvent, TrialEvent } from '../../proto/index.js';
import {
  createIngester,
  createNatsEventPublisher,
  ensureStreams,
  latestProbeRowsQuery,
  latestTrialsQuery,
  migrateClickHouse,
  MIGRATIONS,
  streamNames,
} from '../../pipeline/index.js';
import { createMigrationsTable } from '../../pipeline/clickhouse-sql.js';

const natsUrl = inject('natsUrl');
const clickhouseUrl = inject('clickhouseUrl');
const quiet = () => undefined;

function unique(tag: string): string {
  return `${tag}_${randomBytes(4).toString('hex')}`;
}

function probe(sweep: string, trial: string, epoch: number, attempt = 1): ProbeEvent {
  return ProbeEvent.fromPartial({
    sweep_id: sweep,
    trial_id: trial,
    attempt,
    epoch,
    seed: trial === 'trial-a' ? 1 : 2,
    time_ms: 1_700_000_000_000 + epoch * 1000,
    engine: 'tfjs',
    backend: 'wasm',
    worker_id: 'w1',
    loss: 10 / (epoch + 1) + attempt,
    rel_drift: epoch === 3 ? Number.POSITIVE_INFINITY : 0.5,
    ...(epoch % 2 === 0 ? { cluster_purity: epoch / 100 } : {}),
    scalars: scalarsAt(trial, epoch, attempt),
  });
}

/**
 * A trainer's own scalars: none on trial-b's odd epochs (an empty map); a NaN and a probe's name,
 * which no store keeps, on trial-a's epochs that are multiples of 5.
 */
function scalarsAt(trial: string, epoch: number, attempt: number): Record<string, number> {
  if (trial === 'trial-b' && epoch % 2 === 1) return {};
  const s: Record<string, number> = {
    perplexity: Math.exp(1 / (epoch + 1)) + attempt,
    attn_entropy: epoch / 10,
  };
  if (trial === 'trial-a' && epoch % 5 === 0)
    Object.assign(s, { 'grad.norm-head': 0.5, nan: Number.NaN, loss: 1e9 });
  return s;
}

/** What the store must give back for an event's scalars: sorted names, finite values, no probe names. */
function storedScalars(trial: string, epoch: number, attempt: number) {
  const s = scalarsAt(trial, epoch, attempt);
  const names = Object.keys(s)
    .filter((n) => n !== 'loss' && Number.isFinite(s[n]))
    .sort();
  return { scalar_names: names, scalar_values: names.map((n) => s[n]) };
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T>,
  done: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (done(v)) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function count(ch: ClickHouseClient, sql: string): Promise<number> {
  const rs = await ch.query({ query: sql, format: 'JSONEachRow' });
  const rows = await rs.json<{ n: string }>();
  return Number(rows[0]?.n ?? 0);
}

describe('pipeline: NATS → ClickHouse', () => {
  let ch: ClickHouseClient;
  const databases: string[] = [];

  beforeAll(() => {
    ch = createClient({ url: clickhouseUrl });
  });
  afterAll(async () => {
    for (const db of databases) await ch.command({ query: `DROP DATABASE IF EXISTS \`${db}\`` });
    await ch.close();
  });

  it('migrations are versioned and a second run is a no-op', async () => {
    const db = unique('ps_migrate');
    databases.push(db);
    expect(await migrateClickHouse(clickhouseUrl, db)).toEqual([1, 2]);
    expect(await migrateClickHouse(clickhouseUrl, db)).toEqual([]);
    expect(await count(ch, `SELECT count() AS n FROM \`${db}\`.schema_migrations`)).toBe(2);
    await expect(migrateClickHouse(clickhouseUrl, 'bad`name')).rejects.toThrow(/not a valid ClickHouse name/);
  });

  it('upgrades a database of version 1, also after a version-2 migration cut short', async () => {
    const db = unique('ps_upgrade');
    databases.push(db);
    await ch.command({ query: `CREATE DATABASE \`${db}\`` });
    await ch.command({ query: createMigrationsTable(db) });
    const [v1] = MIGRATIONS;
    for (const statement of v1!.statements(db)) await ch.command({ query: statement as string });
    await ch.command({
      query: `INSERT INTO \`${db}\`.schema_migrations (version, name, applied_at) VALUES (1, 'v1', now())`,
    });
    await ch.insert({
      table: `${db}.probe_events`,
      values: [{ sweep_id: 'old', trial_id: 't', epoch: 0, attempt: 1, loss: 0.5 }],
      format: 'JSONEachRow',
    });
    // Cut short: the first column is there, the version is not recorded.
    await ch.command({ query: `ALTER TABLE \`${db}\`.probe_events ADD COLUMN scalar_names Array(String)` });
    expect(await migrateClickHouse(clickhouseUrl, db)).toEqual([2]);
    expect(await migrateClickHouse(clickhouseUrl, db)).toEqual([]);
    const rs = await ch.query({ query: latestProbeRowsQuery(db, 'old'), format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([
      expect.objectContaining({ trial_id: 't', loss: 0.5, scalar_names: [], scalar_values: [] }),
    ]);
  });

  it('lands one row per (trial, epoch), de-duplicated, latest attempt, with trial state', async () => {
    const db = unique('ps_basic');
    databases.push(db);
    const prefix = unique('t');
    const sweep = unique('sweep');
    const epochs = 40;

    const publisher = await createNatsEventPublisher({
      natsUrl,
      prefix,
      maxBatch: 25,
      maxDelayMs: 10,
      log: quiet,
    });
    for (const trial of ['trial-a', 'trial-b']) {
      for (let epoch = 0; epoch < epochs; epoch++) await publisher.publishProbe(probe(sweep, trial, epoch));
    }
    // Duplicates inside the window (a worker retrying a publish) are dropped by msgID.
    for (let epoch = 0; epoch < 10; epoch++) await publisher.publishProbe(probe(sweep, 'trial-a', epoch));
    // A second attempt of trial-b rewrites its first 5 epochs.
    for (let epoch = 0; epoch < 5; epoch++) await publisher.publishProbe(probe(sweep, 'trial-b', epoch, 2));
    const trialEvent = (status: string, attempt: number) =>
      TrialEvent.fromPartial({
        sweep_id: sweep,
        trial_id: 'trial-b',
        attempt,
        status,
        time_ms: Date.now(),
        seed: 2,
        config_json: '{"lr":0.1}',
        axes: { weight_decay: '0.1', noise: '0' },
        metadata: { engine: 'tfjs', backend: 'wasm', simd: true, versions: { tfjs: '4.22.0' } },
        epochs: attempt === 2 ? epochs : 7,
        reason: status === 'released' ? 'worker shutdown' : '',
      });
    // Out of order on purpose: the terminal state of the latest attempt must win.
    await publisher.publishTrial(trialEvent('completed', 2));
    await publisher.publishTrial(trialEvent('running', 1));
    await publisher.publishTrial(trialEvent('released', 1));
    await publisher.publishTrial(trialEvent('running', 2));
    await publisher.flush();

    const info = await (async () => {
      const nc = await connect({ servers: natsUrl });
      try {
        return await (await jetstreamManager(nc)).streams.info(streamNames(prefix).events);
      } finally {
        await nc.close();
      }
    })();
    expect(info.state.messages).toBe(2 * epochs + 5 + 4);
    await publisher.close();

    const ingester = await createIngester({
      natsUrl,
      clickhouseUrl,
      database: db,
      prefix,
      batchSize: 30,
      batchDelayMs: 50,
      log: quiet,
    });
    const running = ingester.run();
    await waitFor(
      'all events ingested',
      () => Promise.resolve(ingester.stats.ingested),
      (n) => n >= 2 * epochs + 9,
    );
    await ingester.shutdown();
    await running;
    expect(ingester.stats).toMatchObject({ ingested: 2 * epochs + 9, deadLettered: 0 });

    const rs = await ch.query({ query: latestProbeRowsQuery(db, sweep), format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    expect(rows).toHaveLength(2 * epochs);
    const b0 = rows.find((r) => r['trial_id'] === 'trial-b' && r['epoch'] === 0);
    expect(b0).toMatchObject({ attempt: 2, loss: 12, cluster_purity: 0, seed: 2, engine: 'tfjs' });
    // Every row's user scalars came back as sent (the latest attempt's), with and without scalars.
    for (const r of rows) {
      const [trial, epoch, attempt] = [String(r['trial_id']), Number(r['epoch']), Number(r['attempt'])];
      expect([trial, epoch, r['scalar_names'], r['scalar_values']]).toEqual([
        trial,
        epoch,
        ...Object.values(storedScalars(trial, epoch, attempt)),
      ]);
    }
    expect(rows.find((r) => r['trial_id'] === 'trial-a' && r['epoch'] === 5)).toMatchObject({
      scalar_names: ['attn_entropy', 'grad.norm-head', 'perplexity'],
    });
    expect(rows.find((r) => r['trial_id'] === 'trial-b' && r['epoch'] === 1)).toMatchObject({
      scalar_names: [],
      scalar_values: [],
    });
    const a3 = rows.find((r) => r['trial_id'] === 'trial-a' && r['epoch'] === 3);
    expect(a3).toMatchObject({ attempt: 1, loss: 10 / 4 + 1, rel_drift: null, cluster_purity: null });
    expect(a3?.['time']).toBe('2023-11-14 22:13:23');
    const perKey = await count(
      ch,
      `SELECT count() AS n FROM (SELECT trial_id, epoch, count() AS c FROM \`${db}\`.probe_events FINAL GROUP BY trial_id, epoch HAVING c > 1)`,
    );
    expect(perKey).toBe(0);

    const trs = await ch.query({ query: latestTrialsQuery(db, sweep), format: 'JSONEachRow' });
    const trials = await trs.json<Record<string, unknown>>();
    expect(trials).toHaveLength(1);
    expect(trials[0]).toMatchObject({
      trial_id: 'trial-b',
      status: 'completed',
      attempt: 2,
      epochs,
      axes_names: ['noise', 'weight_decay'],
      axes_values: ['0', '0.1'],
      versions_names: ['tfjs'],
      simd: 1,
    });
  });

  it('packs events per trial when asked, and ingests them with JSONEachRow too', async () => {
    const db = unique('ps_packed');
    databases.push(db);
    const prefix = unique('t');
    const sweep = unique('sweep');
    const publisher = await createNatsEventPublisher({
      natsUrl,
      prefix,
      maxEventsPerMessage: 8,
      maxBatch: 1000,
      maxDelayMs: 20,
      log: quiet,
    });
    for (let epoch = 0; epoch < 30; epoch++) {
      for (const trial of ['trial-a', 'trial-b', 'trial-c'])
        await publisher.publishProbe(probe(sweep, trial, epoch));
    }
    await publisher.close();
    const nc = await connect({ servers: natsUrl });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(streamNames(prefix).events);
      // 3 trials × ceil(30 / 8) messages, not 90.
      expect(info.state.messages).toBe(12);
    } finally {
      await nc.close();
    }
    const ingester = await createIngester({
      natsUrl,
      clickhouseUrl,
      database: db,
      prefix,
      batchDelayMs: 20,
      insertFormat: 'JSONEachRow',
      log: quiet,
    });
    const running = ingester.run();
    await waitFor(
      'packed events ingested',
      () => Promise.resolve(ingester.stats.ingested),
      (n) => n >= 90,
    );
    await ingester.shutdown();
    await running;
    const rs = await ch.query({ query: latestProbeRowsQuery(db, sweep), format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    expect(rows).toHaveLength(90);
    expect(rows.find((r) => r['trial_id'] === 'trial-c' && r['epoch'] === 29)).toMatchObject({
      loss: 10 / 30 + 1,
      time: '2023-11-14 22:13:49',
      ...storedScalars('trial-c', 29, 1),
    });
    for (const r of rows) {
      const want = storedScalars(String(r['trial_id']), Number(r['epoch']), 1);
      expect([r['scalar_names'], r['scalar_values']]).toEqual([want.scalar_names, want.scalar_values]);
    }
  });

  it('dead-letters poison messages, counts them, and still ingests the rest', async () => {
    const db = unique('ps_poison');
    databases.push(db);
    const prefix = unique('t');
    const sweep = unique('sweep');
    await ensureStreams(natsUrl, prefix);
    const nc = await connect({ servers: natsUrl });
    try {
      const js = jetstream(nc);
      await js.publish(`${prefix}.probes.${sweep}.t1`, ProbeEvent.encode(probe(sweep, 't1', 0)).finish());
      await js.publish(`${prefix}.probes.${sweep}.t1`, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
      // Decodes, but its ids disagree with its subject.
      await js.publish(`${prefix}.probes.${sweep}.t1`, ProbeEvent.encode(probe(sweep, 'other', 1)).finish());
      await js.publish(`${prefix}.trials.${sweep}.t1`, new TextEncoder().encode('not protobuf at all'));

      const ingester = await createIngester({
        natsUrl,
        clickhouseUrl,
        database: db,
        prefix,
        batchDelayMs: 20,
        log: quiet,
      });
      const running = ingester.run();
      await waitFor(
        'poison handled',
        () => Promise.resolve({ ...ingester.stats }),
        (s) => s.deadLettered >= 3 && s.ingested >= 1,
      );
      await ingester.shutdown();
      await running;
      expect(ingester.stats).toMatchObject({ ingested: 1, deadLettered: 3 });

      const names = streamNames(prefix);
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(names.deadLetters)).state.messages).toBe(3);
      const first = await jsm.streams.getMessage(names.deadLetters, { seq: 1 });
      expect(first?.subject).toBe(`${prefix}.deadletter.probes.${sweep}.t1`);
      expect(first?.header.get('Phasesweep-Reason')).toMatch(/undecodable probes payload/);
      expect(Array.from(first?.data ?? [])).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
      // Everything was acked: nothing waits for redelivery.
      const consumer = await jsm.consumers.info(names.events, names.ingestConsumer);
      expect(consumer.num_ack_pending + consumer.num_pending).toBe(0);
    } finally {
      await nc.close();
    }
    expect(await count(ch, `SELECT count() AS n FROM \`${db}\`.probe_events FINAL`)).toBe(1);
  });
});
