// The model's fast paths (score tables, folded projections, the pooled last FFN, hand-written
// gradients) against a plain formulation differentiated by tfjs itself.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig, type TrialConfigInput } from '../../spec/index.js';
import { createEngine, generateTask, Rng } from '../../worker/training/index.js';
import {
  crossEntropySum,
  disposeBatch,
  initialValues,
  logits,
  modelDims,
  paramSpecs,
  pooled,
  uploadBatch,
  type ModelDims,
  type ParamMap,
} from '../../worker/training/model.js';

/** The textbook model: one-hot embedding matMul, per-token everything, rank-4 attention. */
function plainLoss(p: ParamMap, x: Int32Array, y: Int32Array, dims: ModelDims, noise?: tf.Tensor2D) {
  const { vocab: V, seqLen: L, d, heads: H, classes } = dims;
  const b = y.length;
  const dh = d / H;
  const w = (name: string) => p[name] as tf.Tensor2D;
  let h: tf.Tensor2D = tf.matMul(tf.oneHot(tf.tensor1d(x, 'int32'), V).toFloat(), w('encoder'));
  if (noise) h = tf.add(h, noise);
  const split = (t: tf.Tensor2D) => tf.transpose(tf.reshape(t, [b, L, H, dh]), [0, 2, 1, 3]);
  for (let l = 0; l < dims.layers; l++) {
    const q = split(tf.matMul(h, w(`l${l}.wq`)));
    const k = split(tf.matMul(h, w(`l${l}.wk`)));
    const v = split(tf.matMul(h, w(`l${l}.wv`)));
    const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)));
    const o = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [b * L, d]);
    h = tf.add(h, tf.matMul(o, w(`l${l}.wo`)));
    const f = tf.relu(tf.add(tf.matMul(h, w(`l${l}.w1`)), p[`l${l}.b1`]!));
    h = tf.add(h, tf.add(tf.matMul(f, w(`l${l}.w2`)), p[`l${l}.b2`]!));
  }
  const pool = tf.mean(tf.reshape(h, [b, L, d]), 1);
  const z = tf.add(tf.matMul(pool, w('head.w')), p['head.b']!);
  const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), classes).toFloat();
  return { pool, loss: tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z)))) as tf.Scalar };
}

function maxRelDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array) {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

const cases: [string, TrialConfigInput['task'], TrialConfigInput['model'], boolean][] = [
  [
    'one head, score tables',
    { kind: 'clustered-tokens', vocab: 20, seq_len: 6, train_size: 16 },
    { d_model: 8, heads: 1, ffn: 16 },
    false,
  ],
  [
    'two heads, two layers, score tables',
    { kind: 'clustered-tokens', vocab: 20, seq_len: 6, train_size: 16 },
    { d_model: 8, heads: 2, layers: 2, ffn: 16 },
    false,
  ],
  [
    'table too big: projected embedding rows',
    { kind: 'clustered-tokens', vocab: 64, seq_len: 4, train_size: 8 },
    { d_model: 8, heads: 2, layers: 2, ffn: 12 },
    false,
  ],
  [
    'input noise: per-token projections',
    { kind: 'clustered-tokens', vocab: 20, seq_len: 6, train_size: 16 },
    { d_model: 8, heads: 2, layers: 2, ffn: 16 },
    true,
  ],
  // Head widths that are multiples of 16 take the SIMD batched products on wasm.
  [
    'one head of 32, score tables, SIMD products',
    { kind: 'clustered-tokens', vocab: 20, seq_len: 6, train_size: 16 },
    { d_model: 32, heads: 1, ffn: 16 },
    false,
  ],
  [
    'two heads of 16, input noise, SIMD products',
    { kind: 'clustered-tokens', vocab: 20, seq_len: 5, train_size: 16 },
    { d_model: 32, heads: 2, layers: 2, ffn: 16 },
    true,
  ],
];

describe('fast model against tfjs autodiff of the plain model', () => {
  for (const engine of ['wasm', 'cpu']) {
    it.each(cases)(`%s (${engine})`, async (_name, task, model, withNoise) => {
      await createEngine(engine);
      const config = TrialConfig.parse({ task: { ...task, val_size: 8 }, model });
      const data = generateTask(config.task, 4);
      const dims = modelDims(config, data);
      const specs = paramSpecs(dims);
      // Non-zero biases, so their gradients and the pooled b2 path are exercised too.
      const values = initialValues(
        specs.map((s) => ({ ...s, std: s.std || 0.1 })),
        Rng.stream(4, 'init'),
      );
      const tensors = specs.map((s, i) => tf.tensor(values[i]!, s.shape));
      const toMap = (ts: tf.Tensor[]) => Object.fromEntries(specs.map((s, i) => [s.name, ts[i]!]));
      const x = data.trainX;
      const y = data.trainY;
      const batch = uploadBatch(x, y, dims);
      expect(batch.scores !== null).toBe(!_name.includes('too big'));
      const noise = withNoise
        ? tf.tensor2d(Rng.stream(4, 'n').fillNormal(new Float32Array(y.length * dims.seqLen * dims.d), 0.3), [
            y.length * dims.seqLen,
            dims.d,
          ])
        : undefined;
      const fast = (...ts: tf.Tensor[]) => {
        const m = toMap(ts);
        return crossEntropySum(logits(m, pooled(m, batch, dims, noise)), batch.onehot);
      };
      const plain = (...ts: tf.Tensor[]) => plainLoss(toMap(ts), x, y, dims, noise).loss;

      const pooledFast = pooled(toMap(tensors), batch, dims, noise).dataSync();
      const pooledPlain = plainLoss(toMap(tensors), x, y, dims, noise).pool.dataSync();
      expect(maxRelDiff(pooledFast, pooledPlain)).toBeLessThan(1e-5);

      const gFast = tf.grads(fast)(tensors);
      const gPlain = tf.grads(plain)(tensors);
      specs.forEach((s, i) => {
        const want = gPlain[i]!.dataSync();
        expect(
          Array.from(want).some((v) => v !== 0),
          `${s.name} has a gradient`,
        ).toBe(true);
        expect(maxRelDiff(gFast[i]!.dataSync(), want), s.name).toBeLessThan(1e-4);
      });
      tf.dispose([...tensors, ...gFast, ...gPlain]);
      noise?.dispose();
      disposeBatch(batch);
    });
  }
});
