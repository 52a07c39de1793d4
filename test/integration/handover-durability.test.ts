// A hand-over checkpoint is accepted only once every event it covers is stored. The store is
// made slow on purpose (the delay that, unhandled, lost rows after Ctrl-C and resume): a worker
// hands its trial over while its last events are still being written, the coordinator stops,
// a new one resumes the trial from the same state file, and the store must hold exactly one
// row per epoch with no gap.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Coordinator, FileStateStore, silentLogger } from '../../coordinator/index.js';
import type { ProbeEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';
import { createEngine, DirCheckpointStore, WorkerAgent } from '../../worker/index.js';

const EPOCHS = 300;
const spec = parseSweepYaml(`
name: durable
seeds: 1
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${EPOCHS} }
  probes: { probe_set: 8 }
`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('hand-over durability', () => {
  it('accepts a hand-over checkpoint only after the events it covers are stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-durable-'));
    const stored: ProbeEvent[] = [];
    const slowStore = async (events: ProbeEvent[]) => {
      await sleep(300);
      stored.push(...events);
    };
    const checkpoints = new DirCheckpointStore(join(dir, 'checkpoints'));
    const engine = await createEngine('wasm');

    const first = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      stateStore: new FileStateStore(join(dir, 'state')),
      sinks: { probes: slowStore, trial: () => Promise.resolve() },
    });
    void first.run();
    first.scheduler.submit(spec, expandSweep(spec));
    const worker = new WorkerAgent({
      coordinator: first.address,
      engine,
      log: silentLogger,
      workerId: 'w1',
      checkpoints,
      checkpointEvery: 100_000, // only the hand-over checkpoint
      prefetch: 0,
    });
    const running = worker.run();
    const trial = () => [...first.scheduler.registry.list()[0]!.trials.values()][0]!;
    while (trial().epoch < 40) await sleep(10);
    await worker.shutdown();
    await running;
    await first.shutdown(1000);

    const handedOver = trial();
    expect(handedOver.checkpointEpochs).toBeGreaterThanOrEqual(40);
    const epochs = stored.map((e) => e.epoch).sort((a, b) => a - b);
    expect(epochs).toEqual(Array.from({ length: handedOver.checkpointEpochs }, (_, i) => i));
    expect(handedOver.state).toBe('pending');

    // A new coordinator on the same state resumes right after the checkpoint.
    const second = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      stateStore: new FileStateStore(join(dir, 'state')),
      sinks: { probes: slowStore, trial: () => Promise.resolve() },
    });
    void second.run();
    const resumed = new WorkerAgent({
      coordinator: second.address,
      engine,
      log: silentLogger,
      workerId: 'w2',
      checkpoints,
      prefetch: 0,
    });
    const running2 = resumed.run();
    while (!second.scheduler.registry.isDone('durable')) await sleep(20);
    await resumed.shutdown();
    await running2;
    await second.shutdown(1000);
    const rows = new Map(stored.map((e) => [e.epoch, e]));
    expect(stored).toHaveLength(EPOCHS);
    expect([...rows.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i));
    expect(rows.get(handedOver.checkpointEpochs)!.attempt).toBe(2);
    expect(rows.get(handedOver.checkpointEpochs - 1)!.attempt).toBe(1);
    await checkpoints.close();
  });
});
