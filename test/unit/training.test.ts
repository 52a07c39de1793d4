// Training runs end to end on tiny configs: learning, determinism, resume, divergence.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig, type TrialConfigInput, PROBE_NAMES } from '../../spec/index.js';
import {
  createEngine,
  decodeCheckpoint,
  encodeCheckpoint,
  generateTask,
  runTrial,
  type EpochRecord,
  type RunTrialOptions,
  type TrainingCheckpoint,
} from '../../worker/training/index.js';

const tiny = (train: TrialConfigInput['train'] = {}, probes: TrialConfigInput['probes'] = {}): TrialConfig =>
  TrialConfig.parse({
    task: { kind: 'clustered-tokens', vocab: 32, clusters: 4, seq_len: 8, train_size: 256, val_size: 128 },
    model: { d_model: 16, heads: 2, layers: 1, ffn: 32 },
    train: { epochs: 20, lr: 0.01, ...train },
    probes: { probe_set: 32, ...probes },
  });

async function collect(
  config: TrialConfig,
  engineName: string,
  extra: Partial<RunTrialOptions> = {},
  seed = 1,
) {
  const engine = await createEngine(engineName);
  const records: EpochRecord[] = [];
  const result = await runTrial({ config, seed, engine, onEpoch: (r) => void records.push(r), ...extra });
  return { result, records };
}

describe('runTrial', () => {
  it('learns a tiny clustered-tokens task on wasm, emitting every probe', async () => {
    const { result, records } = await collect(tiny({ epochs: 40 }), 'wasm');
    expect(result).toEqual({ status: 'completed', epochs: 40 });
    expect(records.map((r) => r.epoch)).toEqual([...Array(40).keys()]);
    const first = records[0]!.probes;
    const last = records.at(-1)!.probes;
    expect(last.val_acc!).toBeGreaterThan(first.val_acc! + 0.2);
    expect(last.loss!).toBeLessThan(first.loss! / 2);
    for (const name of PROBE_NAMES) {
      expect(typeof last[name], name).toBe('number');
    }
    expect(last.grad_norm_total!).toBeGreaterThanOrEqual(last.grad_norm!);
  });

  it.each(['wasm', 'cpu'])('is bit-identical for the same config and seed on %s', async (engine) => {
    const config = tiny({ epochs: 6, noise: 0.1, batch_size: 100, weight_decay: 0.1 });
    const a = await collect(config, engine);
    const b = await collect(config, engine);
    expect(a.records).toHaveLength(6);
    expect(b.records).toEqual(a.records);
    const other = await collect(config, engine, {}, 2);
    expect(other.records[0]!.probes.loss).not.toBe(a.records[0]!.probes.loss);
  });

  it.each([
    ['full batch without noise (train_acc from the next forward)', tiny({ epochs: 10, weight_decay: 0.1 })],
    [
      'full batch with input noise',
      tiny({ epochs: 10, noise: 0.2, weight_decay: 0.5, weight_decay_start_epoch: 5 }),
    ],
    ['minibatches', tiny({ epochs: 10, batch_size: 64 }, { every: 2 })],
  ])('resumes from a checkpoint bit-identically (%s)', async (_name, config) => {
    const checkpoints: TrainingCheckpoint[] = [];
    const whole = await collect(config, 'wasm', {
      checkpointEvery: 4,
      onCheckpoint: (c) => void checkpoints.push(c),
    });
    expect(checkpoints.map((c) => c.epoch)).toEqual([3, 7]);
    const restored = decodeCheckpoint(encodeCheckpoint(checkpoints[0]!));
    expect(restored).toEqual(checkpoints[0]);
    const resumed = await collect(config, 'wasm', { resumeFrom: restored });
    expect(resumed.result.status).toBe('completed');
    expect(resumed.records).toEqual(whole.records.filter((r) => r.epoch > 3));
  });

  it.each([
    ['every epoch', tiny({ epochs: 8, weight_decay: 0.1 })],
    ['every 3 epochs, early stop', tiny({ epochs: 20, early_stop_epoch: 7 }, { every: 3 })],
    ['divergence', tiny({ epochs: 50, lr: 1e6 })],
  ])(
    'gives the same events reading train_acc off the next forward as with a separate pass (%s)',
    async (_name, config) => {
      const reused = await collect(config, 'wasm');
      const separate = await collect(config, 'wasm', { reuseForward: false });
      expect(reused.result).toEqual(separate.result);
      expect(reused.records.length).toBeGreaterThan(0);
      expect(reused.records).toEqual(separate.records);
    },
  );

  it('emits each event before the checkpoint that covers it, and before aborting', async () => {
    const log: string[] = [];
    const ctl = new AbortController();
    const { result, records } = await collect(tiny({ epochs: 20 }, { every: 2 }), 'wasm', {
      signal: ctl.signal,
      checkpointEvery: 3,
      onCheckpoint: (c) => void log.push(`checkpoint ${c.epoch}`),
      onEpoch: (r) => {
        log.push(`event ${r.epoch}`);
        if (r.epoch === 4) ctl.abort();
      },
    });
    expect(result).toEqual({ status: 'aborted', epochs: 5, reason: 'aborted' });
    expect(records).toEqual([]);
    expect(log).toEqual(['event 0', 'event 2', 'checkpoint 2', 'event 4']);
    const separate = await collect(tiny({ epochs: 5 }, { every: 2 }), 'wasm', { reuseForward: false });
    expect(separate.records.map((r) => r.epoch)).toEqual([0, 2, 4]);
  });

  it.each([
    ['full batch', {}],
    ['input noise', { noise: 0.1 }],
    ['minibatches', { batch_size: 50 }],
  ])('leaves no tensors behind and holds a steady count across epochs (%s)', async (_name, train) => {
    await createEngine('wasm');
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const checkpoints: TrainingCheckpoint[] = [];
    await collect(tiny({ epochs: 8, ...train }, { every: 2 }), 'wasm', {
      onEpoch: () => void counts.push(tf.memory().numTensors),
      checkpointEvery: 3,
      onCheckpoint: (c) => void checkpoints.push(c),
    });
    expect(new Set(counts.slice(0, -1)).size).toBe(1);
    await collect(tiny({ epochs: 8, ...train }, { every: 2 }), 'wasm', { resumeFrom: checkpoints[0]! });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a checkpoint from another trial', async () => {
    const checkpoints: TrainingCheckpoint[] = [];
    await collect(tiny({ epochs: 2 }), 'wasm', {
      checkpointEvery: 1,
      onCheckpoint: (c) => void checkpoints.push(c),
    });
    await expect(collect(tiny({ epochs: 4 }), 'wasm', { resumeFrom: checkpoints[0]! }, 7)).rejects.toThrow(
      /different trial/,
    );
  });

  it('ends a run with a non-finite loss as diverged, keeping the events before it', async () => {
    const { result, records } = await collect(tiny({ epochs: 50, lr: 1e6 }), 'wasm');
    expect(result.status).toBe('diverged');
    expect(result.epochs).toBeLessThan(50);
    expect(records).toHaveLength(result.epochs);
    expect(result.reason).toMatch(/loss/);
  });

  it('stops after early_stop_epoch and probes every k epochs plus the last', async () => {
    const { result, records } = await collect(
      tiny({ epochs: 30, early_stop_epoch: 6 }, { every: 4 }),
      'wasm',
    );
    expect(result).toEqual({ status: 'completed', epochs: 7 });
    expect(records.map((r) => r.epoch)).toEqual([0, 4, 6]);
  });

  it('stops at an aborted signal between epochs', async () => {
    const ctl = new AbortController();
    const engine = await createEngine('wasm');
    const records: EpochRecord[] = [];
    const result = await runTrial({
      config: tiny({ epochs: 20 }),
      seed: 3,
      engine,
      signal: ctl.signal,
      onEpoch: (r) => {
        records.push(r);
        if (r.epoch === 2) ctl.abort();
      },
    });
    expect(result).toEqual({ status: 'aborted', epochs: 3, reason: 'aborted' });
  });

  it('trains modular addition', async () => {
    const config = TrialConfig.parse({
      task: { kind: 'modular-addition', modulus: 7, train_fraction: 0.6 },
      model: { d_model: 16, heads: 1, ffn: 32 },
      train: { epochs: 30, lr: 0.01 },
    });
    const { result, records } = await collect(config, 'wasm');
    expect(result.status).toBe('completed');
    expect(records.at(-1)!.probes.train_acc!).toBeGreaterThan(records[0]!.probes.train_acc!);
    expect(records[0]!.probes.cluster_purity).toBeUndefined();
  });
});

describe('tasks', () => {
  it('labels clustered sequences by their most frequent cluster, ties to the lowest id', () => {
    const cfg = tiny().task;
    const data = generateTask(cfg, 5);
    expect(data.trainX).toHaveLength(256 * 8);
    for (let s = 0; s < 20; s++) {
      const counts = [0, 0, 0, 0];
      for (let j = 0; j < 8; j++) counts[data.clusters![data.valX[s * 8 + j]!]!]!++;
      expect(data.valY[s]).toBe(counts.indexOf(Math.max(...counts)));
    }
    expect(generateTask(cfg, 5).trainX).toEqual(data.trainX);
  });

  it('splits all modular-addition pairs into train and held-out', () => {
    const data = generateTask({ kind: 'modular-addition', modulus: 11, train_fraction: 0.3 }, 1);
    expect(data.nTrain + data.nVal).toBe(121);
    expect(data.nTrain).toBe(36);
    for (let s = 0; s < data.nTrain; s++) {
      const [a, b, eq] = data.trainX.subarray(s * 3, s * 3 + 3);
      expect(eq).toBe(11);
      expect(data.trainY[s]).toBe((a! + b!) % 11);
    }
  });
});
