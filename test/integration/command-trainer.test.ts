// Command trainers end to end: a real Coordinator and WorkerAgent over a real socket, training
// with the Node test trainer (test/fixtures/trainers/toy.mjs), which speaks the raw protocol.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProbeValues } from '../../spec/index.js';
import { computeMatrixProbes, noiseSensitivityOf, toDense } from '../../worker/probes/index.js';
import { DirCheckpointStore } from '../../worker/index.js';
import { decodeCommandCheckpoint } from '../../worker/trainers/command/envelope.js';
import { startHarness, toySpec, waitUntil } from './trainer-harness.js';

interface Dump {
  attempt: number;
  epoch: number;
  clusters: number[];
  embedding: number[];
  embedding_grad: number[];
  embedding_init?: number[];
  probe_clean: number[];
  probe_noisy: number[];
}

/** The probes the worker should have computed from what the trainer reported, recomputed here. */
function expectedProbes(dumps: Dump[], d: number): ProbeValues[] {
  let prev: number[] | undefined;
  return dumps.map((r) => {
    const { probes } = computeMatrixProbes({
      W_prev: Float64Array.from(prev ?? r.embedding_init!),
      W: Float64Array.from(r.embedding),
      G: Float64Array.from(r.embedding_grad),
      clusters: r.clusters,
      cols: d,
    });
    prev = r.embedding;
    const ns = noiseSensitivityOf(
      toDense(Float64Array.from(r.probe_noisy), d),
      toDense(Float64Array.from(r.probe_clean), d),
    );
    return { ...probes, noise_sensitivity: ns };
  });
}

describe('command trainer', () => {
  it('trains each trial with the command, one event per epoch, probes computed from its matrices', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-cmd-'));
    const h = await startHarness();
    const spec = h.submit(
      toySpec({
        name: 'cmd-normal',
        epochs: 6,
        seeds: 2,
        params: { dump_file: join(dir, 'dump.jsonl') },
        trainer: 'env: { TOY_FLAG: "on" }',
      }),
    );
    const { log } = h.agent();
    await waitUntil('the sweep to finish', () => h.coordinator.scheduler.registry.isDone(spec.name));
    await h.close();

    expect(h.events).toHaveLength(12);
    expect(new Set(h.events.map((e) => `${e.trial_id}:${e.epoch}`)).size).toBe(12);
    const completed = h.trialEvents.filter((e) => e.status === 'completed');
    expect(completed).toHaveLength(2);
    expect(completed[0]!.metadata).toMatchObject({
      engine: 'command',
      backend: 'cpu',
      versions: { 'toy-trainer': '1.2.3', node: process.versions.node, protocol: '1' },
    });

    const dumps = readFileSync(join(dir, 'dump.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Dump);
    for (const trialId of new Set(h.events.map((e) => e.trial_id))) {
      const events = h.events.filter((e) => e.trial_id === trialId).sort((a, b) => a.epoch - b.epoch);
      expect(events.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(events.every((e) => e.engine === 'command' && e.backend === 'cpu' && e.attempt === 1)).toBe(
        true,
      );
      // The worker trains one trial after the other: the dump holds each one's six reports in turn.
      const expected = [0, 6]
        .map((o) => expectedProbes(dumps.slice(o, o + 6), 4))
        .find((p) => events.every((e) => e.emb_norm === p[e.epoch]!.emb_norm));
      expect(expected, 'one trial’s reports give exactly these probes').toBeDefined();
      for (const e of events) {
        const want = expected![e.epoch]!;
        for (const [name, value] of Object.entries(want)) {
          const got = (e as unknown as Record<string, number | undefined>)[name];
          if (value === null || !Number.isFinite(value)) expect(got, name).toBeUndefined();
          else expect(got, `${name} at epoch ${e.epoch}`).toBe(value);
        }
        expect(e.loss).toBeGreaterThan(0);
        for (const name of ['drift', 'cka_prev', 'eff_rank', 'cluster_purity', 'noise_sensitivity'] as const)
          expect(e[name], name).toEqual(expect.any(Number));
        expect(e.train_acc).toBeCloseTo(1 / (1 + e.loss!), 12);
        // grad_norm comes from the embedding_grad matrix; grad_norm_total as the trainer sent it.
        expect(e.grad_norm).toBeGreaterThan(0);
        expect(e.grad_norm_total).toBeCloseTo(e.grad_norm! * 1.5, 12);
        // User scalars: non-probe names, finite only (1e999 and null are left out).
        expect(e.scalars).toEqual({ lr_now: 0.05, 'toy.metric': e.epoch * 0.5 });
      }
    }
    const output = log.lines.filter((l) => / attempt 1 stdout: /.test(l));
    expect(output.some((l) => /toy trainer attempt 1: epochs 0…5 on cpu/.test(l))).toBe(true);
    expect(output.some((l) => l.includes('CUDA_VISIBLE_DEVICES="" TOY_FLAG=on'))).toBe(true);
  });

  it('stores events every probes.every epochs and checkpoints every checkpointEvery, as the built-in engine does', async () => {
    const h = await startHarness();
    const spec = h.submit(toySpec({ name: 'cmd-every', epochs: 7, probes: '{ every: 3 }' }));
    const ckptDir = mkdtempSync(join(tmpdir(), 'phasesweep-ckpt-'));
    const checkpoints = new DirCheckpointStore(ckptDir);
    h.agent({ checkpoints, checkpointEvery: 2 });
    await waitUntil('the sweep to finish', () => h.coordinator.scheduler.registry.isDone(spec.name));
    await h.close();
    expect(h.events.map((e) => e.epoch)).toEqual([0, 3, 6]);
    // W_prev is the previous epoch's embedding even when that epoch had no event.
    expect(h.events.every((e) => typeof e.drift === 'number')).toBe(true);
    const trial = [...h.coordinator.scheduler.registry.list()[0]!.trials.values()][0]!;
    expect(trial.state).toBe('completed');
    // Checkpoints after epochs 1, 3 and 5 (none after the last), each a worker envelope.
    const files = readdirSync(join(ckptDir, 'cmd-every', trial.trialId)).sort();
    expect(files).toEqual(['a1-e1.ckpt', 'a1-e3.ckpt', 'a1-e5.ckpt']);
    const envelope = decodeCommandCheckpoint(
      readFileSync(join(ckptDir, 'cmd-every', trial.trialId, 'a1-e5.ckpt')),
    );
    expect(envelope.epoch).toBe(5);
    expect(JSON.parse(Buffer.from(envelope.trainer).toString()) as { epoch: number }).toMatchObject({
      epoch: 5,
    });
    expect(envelope.probes.wPrev).toMatchObject({ rows: 12, cols: 4, dtype: 'float32' });
  });

  it('shows the trainer only the GPUs its lease sets aside, and records the device', async () => {
    const h = await startHarness();
    const spec = h.submit(toySpec({ name: 'cmd-gpu', epochs: 2, resources: '{ gpu: 1 }' }));
    const { log } = h.agent({ devices: [{ kind: 'cuda', index: 1, name: 'test GPU', memory_bytes: 0 }] });
    await waitUntil('the sweep to finish', () => h.coordinator.scheduler.registry.isDone(spec.name));
    await h.close();
    expect(h.trialEvents.at(-1)).toMatchObject({
      status: 'completed',
      metadata: { engine: 'command', backend: 'cuda' },
    });
    expect(h.events.every((e) => e.backend === 'cuda')).toBe(true);
    expect(log.lines.some((l) => l.includes('stdout: toy trainer attempt 1: epochs 0…1 on cuda'))).toBe(true);
    expect(log.lines.some((l) => l.includes('CUDA_VISIBLE_DEVICES="1"'))).toBe(true);
  });
});
