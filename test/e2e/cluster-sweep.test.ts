// A whole sweep in cluster mode with real processes: a coordinator, two workers and an ingester
// over a real nats-server and clickhouse-server. Every (trial, epoch) lands exactly once in
// ClickHouse with the values the workers computed (recomputed here: training is deterministic).
import { createClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { expandSweep, parseSweepYaml, type ProbeValues } from '../../spec/index.js';
import { createEngine, runTrial } from '../../worker/training/index.js';
import { runCli, startCli, type CliProcess } from '../support/processes.js';

const EPOCHS = 6;
const SPEC = `
name: e2e
seeds: 3
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${EPOCHS}, lr: 0.02 }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.5]
`;
const CHECKED = ['loss', 'grad_norm', 'emb_norm', 'drift', 'stability', 'val_acc'] as const;

describe('cluster sweep end to end', () => {
  const natsUrl = inject('natsUrl');
  const clickhouseUrl = inject('clickhouseUrl');
  const id = randomBytes(4).toString('hex');
  const prefix = `e2e${id}`;
  const database = `e2e_${id}`;
  const procs: CliProcess[] = [];
  const ch = createClient({ url: clickhouseUrl });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await ch.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await ch.close();
  });

  it('runs 6 trials on 2 workers and stores one row per (trial, epoch) with the computed values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-e2e-'));
    const specFile = join(dir, 'sweep.yaml');
    writeFileSync(specFile, SPEC);

    const coordinator = startCli([
      'coordinator',
      '--listen',
      '127.0.0.1:0',
      '--nats',
      natsUrl,
      '--prefix',
      prefix,
      '--lease-ttl-ms',
      '6000',
    ]);
    procs.push(coordinator);
    const address = (await coordinator.waitFor(/listening on (\S+)/))[1]!;
    const ingester = startCli([
      'ingest',
      '--nats',
      natsUrl,
      '--clickhouse',
      clickhouseUrl,
      '--database',
      database,
      '--prefix',
      prefix,
    ]);
    procs.push(ingester);
    for (let i = 0; i < 2; i++) {
      procs.push(
        startCli([
          'worker',
          '--coordinator',
          address,
          '--engine',
          'wasm',
          '--nats',
          natsUrl,
          '--prefix',
          prefix,
          '--id',
          `w${i}`,
        ]),
      );
    }
    const submitted = await runCli(['sweep', 'submit', specFile, '--coordinator', address, '--json']);
    expect(submitted.code, submitted.output).toBe(0);
    expect(JSON.parse(submitted.output)).toMatchObject({ sweep_id: 'e2e', trials_total: 6, trials_added: 6 });

    const status = await runCli([
      'sweep',
      'status',
      'e2e',
      '--coordinator',
      address,
      '--wait',
      '--timeout-s',
      '240',
      '--json',
    ]);
    expect(status.code, status.output).toBe(0);
    const final = JSON.parse(status.output) as {
      state: string;
      trials: { worker_id: string; state: string }[];
    };
    expect(final.state).toBe('completed');
    expect(new Set(final.trials.map((t) => t.worker_id)).size).toBe(2);

    const planned = expandSweep(parseSweepYaml(SPEC));
    let rows: Record<string, unknown>[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const rs = await ch
        .query({
          query: `SELECT * FROM ${database}.probe_events ORDER BY trial_id, epoch`,
          format: 'JSONEachRow',
        })
        .catch(() => undefined);
      rows = rs ? await rs.json<Record<string, unknown>>() : [];
      if (rows.length >= planned.length * EPOCHS) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(rows, `ingester output:\n${ingester.output()}`).toHaveLength(planned.length * EPOCHS);
    const keys = rows.map((r) => `${String(r['trial_id'])}:${String(r['epoch'])}`);
    expect(new Set(keys).size).toBe(rows.length);

    // The values the workers computed: training is deterministic per seed and engine.
    const engine = await createEngine('wasm');
    for (const t of planned) {
      const expected: ProbeValues[] = [];
      await runTrial({
        config: t.config,
        seed: t.seed,
        engine,
        onEpoch: (rec) => void expected.push(rec.probes),
      });
      const got = rows.filter((r) => r['trial_id'] === t.trialId);
      expect(got.map((r) => Number(r['epoch']))).toEqual([...Array(EPOCHS).keys()]);
      for (const [epoch, row] of got.entries()) {
        for (const name of CHECKED)
          expect(row[name], `${t.trialId} epoch ${epoch} ${name}`).toBe(expected[epoch]![name]);
      }
    }
    // Trial status events reach ClickHouse too.
    const trials = await (
      await ch.query({
        query: `SELECT trial_id, argMax(status, version) AS s FROM ${database}.trials GROUP BY trial_id`,
        format: 'JSONEachRow',
      })
    ).json<{ trial_id: string; s: string }>();
    expect(trials.filter((t) => t.s === 'completed')).toHaveLength(6);
  });
});
