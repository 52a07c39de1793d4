// One trial from config and seed: data, init, the epoch loop with AdamW, probes every
// `probes.every` epochs, checkpoints, divergence and abort. Deterministic per engine.
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { canonicalJson, PhasesweepError, type ProbeValues, type TrialConfig } from '../../spec/index.js';
import { computeMatrixProbes } from '../probes/index.js';
import { AdamW } from './adamw.js';
import type { TrainingCheckpoint } from './checkpoint.js';
import { evaluate, gradients, uploadChunks, type ParamSet } from './compute.js';
import { useEngine, type Engine } from './engine.js';
import { disposeBatch, initialValues, modelDims, paramSpecs, uploadBatch, type TokenBatch } from './model.js';
import { Rng } from './rng.js';
import { generateTask } from './tasks.js';

export interface EpochRecord {
  epoch: number;
  probes: ProbeValues;
}

export interface RunTrialOptions {
  config: TrialConfig;
  seed: number;
  engine: Engine;
  signal?: AbortSignal;
  /** Awaited: a slow consumer holds training back instead of buffering events. */
  onEpoch: (rec: EpochRecord) => Promise<void> | void;
  resumeFrom?: TrainingCheckpoint;
  /** Checkpoint after every this many epochs (counted from epoch 0). */
  checkpointEvery?: number;
  onCheckpoint?: (c: TrainingCheckpoint) => Promise<void> | void;
  /** Wall time per epoch, split into the training step and the probes (for benchmarks). */
  onTiming?: (t: EpochTiming) => void;
}

export interface EpochTiming {
  epoch: number;
  trainMs: number;
  probeMs: number;
}

export interface TrialRunResult {
  status: 'completed' | 'diverged' | 'aborted';
  /** Epochs completed (the last one's index + 1). */
  epochs: number;
  reason?: string;
}

/** The checkpoint fingerprint: what fixes data and parameter shapes. */
export function trialFingerprint(config: TrialConfig, seed: number): string {
  return createHash('sha256')
    .update(canonicalJson({ task: config.task, model: config.model, seed }))
    .digest('hex')
    .slice(0, 16);
}

/** The last epoch run: `epochs − 1`, or `early_stop_epoch` when that comes first. */
export function lastEpoch(config: TrialConfig): number {
  const stop = config.train.early_stop_epoch;
  return Math.min(config.train.epochs - 1, stop ?? Number.POSITIVE_INFINITY);
}

function readMatrix(v: tf.Tensor): Float32Array {
  return (v.dataSync() as Float32Array).slice();
}

export async function runTrial(opts: RunTrialOptions): Promise<TrialRunResult> {
  const { config, seed, engine } = opts;
  await useEngine(engine);
  const data = generateTask(config.task, seed);
  const dims = modelDims(config, data);
  const specs = paramSpecs(dims);
  const fingerprint = trialFingerprint(config, seed);
  const resume = opts.resumeFrom;
  if (resume) {
    const same = resume.names.length === specs.length && specs.every((s, i) => s.name === resume.names[i]);
    if (resume.fingerprint !== fingerprint || !same) {
      throw new PhasesweepError(
        'FAILED_PRECONDITION',
        'checkpoint belongs to a different trial (task, model or seed)',
      );
    }
  }
  const values = resume ? resume.params : initialValues(specs, Rng.stream(seed, 'init'));
  const params: ParamSet = {
    names: specs.map((s) => s.name),
    vars: specs.map((s, i) => tf.variable(tf.tensor(values[i]!, s.shape), true)),
  };
  const opt = new AdamW(params.vars, resume?.adam);
  const noiseRng = resume ? Rng.fromState(resume.rng.noise) : Rng.stream(seed, 'noise');
  const orderRng = resume ? Rng.fromState(resume.rng.order) : Rng.stream(seed, 'order');
  const train = uploadChunks(data.trainX, data.trainY, dims);
  const val = uploadChunks(data.valX, data.valY, dims);
  // The noise-sensitivity probe: a fixed subset and the same ε draws every epoch.
  const nProbe = Math.min(config.probes.probe_set, data.nTrain);
  const probe = {
    batch: uploadBatch(data.trainX.subarray(0, nProbe * dims.seqLen), data.trainY.subarray(0, nProbe), dims),
    noise: tf.tensor2d(
      Rng.stream(seed, 'probe-noise').fillNormal(
        new Float32Array(nProbe * dims.seqLen * dims.d),
        config.probes.noise_scale,
      ),
      [nProbe * dims.seqLen, dims.d],
    ),
  };
  const last = lastEpoch(config);
  const embedding = params.vars[0]!;
  let epoch = resume ? resume.epoch + 1 : 0;
  try {
    for (; epoch <= last; epoch++) {
      if (opts.signal?.aborted) return { status: 'aborted', epochs: epoch, reason: 'aborted' };
      const probeNow = epoch % config.probes.every === 0 || epoch === last;
      const t0 = performance.now();
      const wPrev = probeNow ? readMatrix(embedding) : null;
      const step = trainEpoch(params, opt, {
        train,
        dims,
        nTrain: data.nTrain,
        data,
        epoch,
        probeNow,
        noiseRng,
        orderRng,
        config,
      });
      if (!Number.isFinite(step.loss)) {
        return { status: 'diverged', epochs: epoch, reason: `loss is ${step.loss} at epoch ${epoch}` };
      }
      const t1 = performance.now();
      if (probeNow) {
        const matrix = computeMatrixProbes({
          W_prev: wPrev!,
          W: readMatrix(embedding),
          G: step.gEmb!,
          clusters: data.clusters,
          cols: dims.d,
        });
        const ev = evaluate(params, { train, val, nTrain: data.nTrain, nVal: data.nVal }, probe, dims);
        const gn = matrix.grad_norm ?? Number.NaN;
        const probes: ProbeValues = {
          loss: step.loss,
          train_acc: ev.trainAcc,
          val_loss: ev.valLoss,
          val_acc: ev.valAcc,
          grad_norm_total: Math.sqrt(gn * gn + step.otherGradSq),
          ...matrix,
          noise_sensitivity: ev.noiseSensitivity,
        };
        for (const [k, v] of Object.entries(probes)) {
          if (typeof v === 'number' && !Number.isFinite(v)) probes[k as keyof ProbeValues] = null;
        }
        opts.onTiming?.({ epoch, trainMs: t1 - t0, probeMs: performance.now() - t1 });
        await opts.onEpoch({ epoch, probes });
      } else {
        opts.onTiming?.({ epoch, trainMs: t1 - t0, probeMs: 0 });
      }
      if (opts.checkpointEvery && opts.onCheckpoint && (epoch + 1) % opts.checkpointEvery === 0) {
        await opts.onCheckpoint({
          epoch,
          fingerprint,
          names: params.names,
          shapes: specs.map((s) => s.shape),
          params: params.vars.map(readMatrix),
          adam: opt.exportState(),
          rng: { noise: noiseRng.state(), order: orderRng.state() },
        });
      }
    }
    return { status: 'completed', epochs: last + 1 };
  } finally {
    opt.dispose();
    tf.dispose(params.vars);
    [...train, ...val, probe.batch].forEach(disposeBatch);
    probe.noise.dispose();
  }
}

interface EpochContext {
  train: TokenBatch[];
  dims: ReturnType<typeof modelDims>;
  nTrain: number;
  data: ReturnType<typeof generateTask>;
  epoch: number;
  probeNow: boolean;
  noiseRng: Rng;
  orderRng: Rng;
  config: TrialConfig;
}

interface EpochStep {
  /** Mean training cross-entropy of the epoch's forward passes. */
  loss: number;
  /** Gradient w.r.t. the embedding (probe epochs only). */
  gEmb: Float32Array | null;
  /** Σ‖g‖² over the other parameters (probe epochs only). */
  otherGradSq: number;
}

/**
 * One epoch: a full-batch step, or minibatch steps over a fresh permutation. With
 * minibatches G_t is the size-weighted mean of the epoch's minibatch gradients.
 */
function trainEpoch(p: ParamSet, opt: AdamW, ctx: EpochContext): EpochStep {
  const { config, dims } = ctx;
  const tc = config.train;
  const wd = ctx.epoch >= tc.weight_decay_start_epoch ? tc.weight_decay : 0;
  const bs = tc.batch_size;
  if (bs === null || bs >= ctx.nTrain) {
    const g = gradients(p, ctx.train, dims, ctx.nTrain, tc.noise, ctx.noiseRng);
    const out = summarise(g.lossSum, g.grads, ctx.nTrain, ctx.probeNow);
    if (Number.isFinite(out.loss)) opt.apply(g.grads, tc.lr, wd);
    tf.dispose([g.lossSum, ...g.grads]);
    return out;
  }
  const order = ctx.orderRng.shuffle(Int32Array.from({ length: ctx.nTrain }, (_, i) => i));
  const L = dims.seqLen;
  let lossSum: tf.Scalar = tf.scalar(0);
  let meanGrads: tf.Tensor[] | null = null;
  for (let s = 0; s < ctx.nTrain; s += bs) {
    const idx = order.subarray(s, Math.min(ctx.nTrain, s + bs));
    const x = new Int32Array(idx.length * L);
    const y = new Int32Array(idx.length);
    idx.forEach((row, i) => {
      x.set(ctx.data.trainX.subarray(row * L, (row + 1) * L), i * L);
      y[i] = ctx.data.trainY[row]!;
    });
    const chunks = uploadChunks(x, y, dims);
    const g = gradients(p, chunks, dims, idx.length, tc.noise, ctx.noiseRng);
    chunks.forEach(disposeBatch);
    if (ctx.probeNow) {
      const w = idx.length / ctx.nTrain;
      const prev: tf.Tensor[] | null = meanGrads;
      meanGrads = g.grads.map((t, i): tf.Tensor =>
        tf.tidy(() => (prev ? tf.add(prev[i]!, tf.mul(t, w)) : tf.mul(t, w))),
      );
      if (prev) tf.dispose(prev);
    }
    opt.apply(g.grads, tc.lr, wd);
    const prevLoss = lossSum;
    lossSum = tf.add<tf.Scalar>(prevLoss, g.lossSum);
    tf.dispose([prevLoss, g.lossSum, ...g.grads]);
  }
  const out = summarise(lossSum, meanGrads ?? [], ctx.nTrain, ctx.probeNow);
  tf.dispose([lossSum, ...(meanGrads ?? [])]);
  return out;
}

function summarise(lossSum: tf.Scalar, grads: tf.Tensor[], n: number, probeNow: boolean): EpochStep {
  if (!probeNow || grads.length === 0)
    return { loss: lossSum.dataSync()[0]! / n, gEmb: null, otherGradSq: 0 };
  const stats = tf.tidy(() => tf.stack([lossSum, tf.addN(grads.slice(1).map((g) => tf.sum(tf.square(g))))]));
  const [loss, other] = stats.dataSync();
  stats.dispose();
  return { loss: loss! / n, gEmb: readMatrix(grads[0]!), otherGradSq: other! };
}
