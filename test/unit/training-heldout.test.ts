// Held-out probes: the validation pass gives what a plain forward gives, and noise sensitivity
// pairs the probe set's perturbed pass with clean rows taken from a forward over the training
// split (its head is the probe set), whether that forward is the training step's or its own.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig } from '../../spec/index.js';
import { createEngine, generateTask, Rng } from '../../worker/training/index.js';
import {
  disposeHeldOut,
  forwardStats,
  gradients,
  noiseSensitivity,
  noisyProbeRows,
  paramMap,
  uploadChunks,
  uploadHeldOut,
  validation,
  type ParamSet,
} from '../../worker/training/compute.js';
import { initialValues, modelDims, paramSpecs, pooled, uploadBatch } from '../../worker/training/model.js';

describe('held-out probes', () => {
  it.each([
    ['score tables', 24, 64, 64, 16],
    ['per-token attention, probe rows split across chunks', 200, 2040, 2100, 2060],
  ])('match separate passes (%s)', async (_name, vocab, nVal, nTrain, nProbe) => {
    await createEngine('wasm');
    const config = TrialConfig.parse({
      task: { kind: 'clustered-tokens', vocab, seq_len: 8, train_size: nTrain, val_size: nVal },
      model: { d_model: 8, heads: 2, layers: 2, ffn: 16 },
    });
    const data = generateTask(config.task, 2);
    const dims = modelDims(config, data);
    const specs = paramSpecs(dims);
    const values = initialValues(specs, Rng.stream(2, 'init'));
    const params: ParamSet = {
      names: specs.map((s) => s.name),
      vars: specs.map((s, i) => tf.variable(tf.tensor(values[i]!, s.shape))),
    };
    const L = dims.seqLen;
    const eps = Rng.stream(2, 'eps').fillNormal(new Float32Array(nProbe * L * dims.d), 0.3);
    const probeX = data.trainX.subarray(0, nProbe * L);
    const probeY = data.trainY.subarray(0, nProbe);
    const set = uploadHeldOut({ x: data.valX, y: data.valY }, { x: probeX, y: probeY, noise: eps }, dims);
    const train = uploadChunks(data.trainX, data.trainY, dims);
    if (nTrain > 2048) expect(train.length).toBeGreaterThan(1);

    const { valLoss, valAcc } = validation(params, set, dims);
    const plain = forwardStats(params, uploadChunks(data.valX, data.valY, dims), dims);
    expect(valLoss).toBeCloseTo(plain.lossSum / data.nVal, 6);
    expect(valAcc).toBe(plain.correct / data.nVal);

    const map = paramMap(params);
    const batch = uploadBatch(probeX, probeY, dims);
    const h0 = pooled(map, batch, dims);
    const h1 = pooled(map, batch, dims, tf.tensor2d(eps, [nProbe * L, dims.d]));
    const want = tf
      .mean(tf.div(tf.norm(tf.sub(h1, h0), 'euclidean', 1), tf.norm(h0, 'euclidean', 1)))
      .dataSync()[0]!;

    const own = forwardStats(params, train, dims, nProbe).rows!;
    expect(own.shape).toEqual([nProbe, dims.d]);
    const fromStep = gradients(params, train, dims, nTrain, 0, Rng.stream(2, 'unused'), nProbe).rows!;
    expect(Array.from(fromStep.dataSync())).toEqual(Array.from(own.dataSync()));
    for (const clean of [own, fromStep]) {
      const got = noiseSensitivity(noisyProbeRows(params, set, dims), clean);
      expect(got).toBeGreaterThan(0);
      expect(Math.abs(got - want) / got).toBeLessThan(1e-5);
      expect(clean.isDisposed).toBe(true);
    }
    expect(gradients(params, train, dims, nTrain, 0.1, Rng.stream(2, 'noise'), nProbe).rows).toBeNull();
    disposeHeldOut(set);
    tf.dispose(params.vars);
  });
});
