// The model's fast paths compute the same function as the plain formulation.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig } from '../../spec/index.js';
import { createEngine, generateTask, Rng } from '../../worker/training/index.js';
import {
  initialValues,
  modelDims,
  paramSpecs,
  pooled,
  uploadBatch,
  type ParamMap,
} from '../../worker/training/model.js';
import { transpose2d } from '../../worker/training/tf-ops.js';

describe('model fast paths', () => {
  it.each(['wasm', 'cpu'])(
    'folding q/k/v into the embedding table matches projecting every token (%s)',
    async (name) => {
      await createEngine(name);
      const config = TrialConfig.parse({
        task: { kind: 'clustered-tokens', vocab: 20, seq_len: 6, train_size: 16, val_size: 8 },
        model: { d_model: 8, heads: 2, layers: 2, ffn: 16 },
      });
      const data = generateTask(config.task, 3);
      const dims = modelDims(config, data);
      const specs = paramSpecs(dims);
      const values = initialValues(specs, Rng.stream(3, 'init'));
      const params: ParamMap = {};
      specs.forEach((s, i) => (params[s.name] = tf.tensor(values[i]!, s.shape)));
      const batch = uploadBatch(data.trainX, data.trainY, dims);
      const zeros = tf.zeros<tf.Rank.R2>([data.trainY.length * dims.seqLen, dims.d]);
      // Passing zero noise takes the per-token path; no noise takes the folded one.
      const plain = pooled(params, batch, dims, zeros).dataSync();
      const folded = pooled(params, batch, dims).dataSync();
      let maxRel = 0;
      plain.forEach((v, i) => (maxRel = Math.max(maxRel, Math.abs(v - folded[i]!) / (Math.abs(v) + 1e-3))));
      expect(maxRel).toBeLessThan(1e-4);
      expect(Array.from(plain)).not.toEqual(new Array(plain.length).fill(0));
    },
  );
});

describe('transpose2d', () => {
  it.each([
    [16384, 64],
    [1024, 256],
    [520, 12],
    [300, 7],
    [8, 3],
  ])('equals tf.transpose exactly for %i×%i on wasm', async (n, m) => {
    await createEngine('wasm');
    const x = tf.randomNormal<tf.Rank.R2>([n, m]);
    expect(Array.from(transpose2d(x).dataSync())).toEqual(Array.from(tf.transpose(x).dataSync()));
    expect(transpose2d(x).shape).toEqual([m, n]);
  });
});
