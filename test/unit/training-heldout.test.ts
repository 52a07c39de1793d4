// The validation pass that also carries the probe set's clean rows gives what separate
// passes give: validation loss and accuracy, and noise sensitivity from two pooled passes.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig } from '../../spec/index.js';
import { createEngine, generateTask, Rng } from '../../worker/training/index.js';
import {
  disposeHeldOut,
  forwardStats,
  noiseSensitivity,
  paramMap,
  uploadChunks,
  uploadHeldOut,
  validation,
  type ParamSet,
} from '../../worker/training/compute.js';
import { initialValues, modelDims, paramSpecs, pooled, uploadBatch } from '../../worker/training/model.js';

describe('held-out probes', () => {
  it.each([
    ['score tables', 24, 64],
    ['per-token attention, probe rows split across chunks', 200, 2040],
  ])('match separate passes (%s)', async (_name, vocab, nVal) => {
    await createEngine('wasm');
    const config = TrialConfig.parse({
      task: { kind: 'clustered-tokens', vocab, seq_len: 8, train_size: 64, val_size: nVal },
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
    const nProbe = 16;
    const L = dims.seqLen;
    const eps = Rng.stream(2, 'eps').fillNormal(new Float32Array(nProbe * L * dims.d), 0.3);
    const probeX = data.trainX.subarray(0, nProbe * L);
    const probeY = data.trainY.subarray(0, nProbe);
    const set = uploadHeldOut({ x: data.valX, y: data.valY }, { x: probeX, y: probeY, noise: eps }, dims);
    if (nVal > 1000) expect(set.chunks.length).toBeGreaterThan(1);

    const { valLoss, valAcc, clean } = validation(params, set, dims);
    const got = noiseSensitivity(params, set, clean, dims);

    const valChunks = uploadChunks(data.valX, data.valY, dims);
    const plain = forwardStats(params, valChunks, dims).dataSync();
    expect(valLoss).toBeCloseTo(plain[0]! / data.nVal, 6);
    expect(valAcc).toBe(plain[1]! / data.nVal);
    const map = paramMap(params);
    const batch = uploadBatch(probeX, probeY, dims);
    const h0 = pooled(map, batch, dims);
    const h1 = pooled(map, batch, dims, tf.tensor2d(eps, [nProbe * L, dims.d]));
    const want = tf.mean(tf.div(tf.norm(tf.sub(h1, h0), 'euclidean', 1), tf.norm(h0, 'euclidean', 1)));
    expect(got).toBeGreaterThan(0);
    expect(Math.abs(got - want.dataSync()[0]!) / got).toBeLessThan(1e-5);
    disposeHeldOut(set);
    tf.dispose(params.vars);
  });
});
