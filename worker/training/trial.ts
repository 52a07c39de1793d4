// One trial from config and seed: data, init, the epoch loop with AdamW, probes every
// `probes.every` epochs, checkpoints, divergence and abort. Deterministic per engine. With full
// batch and no input noise, an epoch's event leaves one forward pass later (see reuseForward).
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { canonicalJson, PhasesweepError, type ProbeValues, type TrialConfig } from '../../spec/index.js';
import { computeMatrixProbes, type MatrixProbeMemo } from '../probes/index.js';
import { AdamW } from './adamw.js';
import type { TrainingCheckpoint } from './checkpoint.js';
import {
  disposeHeldOut,
  forwardStats,
  noiseSensitivity,
  noisyProbeRows,
  uploadChunks,
  uploadHeldOut,
  validation,
  type ParamSet,
} from './compute.js';
import { useEngine, type Engine } from './engine.js';
import {
  fullBatchGradients,
  isFullBatch,
  minibatchEpoch,
  readMatrix,
  weightDecayAt,
  type EpochContext,
  type EpochStep,
} from './epoch-step.js';
import { disposeBatch, initialValues, modelDims, paramSpecs } from './model.js';
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
  /** Also checkpoint the last completed epoch when aborted (a graceful shutdown hands over). */
  checkpointOnAbort?: boolean;
  /**
   * With full batch and no input noise (the default), train_acc after epoch t's step is read
   * off epoch t+1's training forward pass, which computes exactly those logits, and the event
   * is emitted then (after the last epoch, and before stopping early, one extra pass does
   * it). With input noise or minibatches no training pass sees the clean full batch, so a
   * separate pass runs on every probe epoch. false forces that separate pass always; both
   * give identical events, and events still leave before the checkpoint covering them.
   */
  reuseForward?: boolean;
  /** Wall time per epoch, split into the training step and the probes (for benchmarks). */
  onTiming?: (t: EpochTiming) => void;
}

export interface EpochTiming {
  epoch: number;
  /** Forward, backward and optimiser step. */
  trainMs: number;
  /** Everything done only for the probes: matrix probes, held-out and probe-set passes, reads. */
  probeMs: number;
  /** probeMs by part (ms): matrix probes, validation pass, the probe set's perturbed pass (and
   * finishing noise_sensitivity), and a clean pass over the training split when one runs. */
  probeParts?: Partial<Record<ProbePart, number>>;
}

export type ProbePart = 'matrix' | 'val' | 'noise' | 'train_acc';

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
    // tidy frees the initial tensors, whose data the variables would otherwise share for good.
    vars: tf.tidy(() => specs.map((s, i) => tf.variable(tf.tensor(values[i]!, s.shape), true))),
  };
  const opt = new AdamW(params.vars, resume?.adam);
  const noiseRng = resume ? Rng.fromState(resume.rng.noise) : Rng.stream(seed, 'noise');
  const orderRng = resume ? Rng.fromState(resume.rng.order) : Rng.stream(seed, 'order');
  const train = uploadChunks(data.trainX, data.trainY, dims);
  // The noise-sensitivity probe: a fixed subset and the same ε draws every epoch.
  const nProbe = Math.min(config.probes.probe_set, data.nTrain);
  const heldOut = uploadHeldOut(
    { x: data.valX, y: data.valY },
    {
      x: data.trainX.subarray(0, nProbe * dims.seqLen),
      y: data.trainY.subarray(0, nProbe),
      noise: Rng.stream(seed, 'probe-noise').fillNormal(
        new Float32Array(nProbe * dims.seqLen * dims.d),
        config.probes.noise_scale,
      ),
    },
    dims,
  );
  const last = lastEpoch(config);
  const embedding = params.vars[0]!;
  const fullBatch = isFullBatch(config, data.nTrain);
  const reuse = (opts.reuseForward ?? true) && fullBatch && config.train.noise === 0;
  const checkpoint = async (epoch: number): Promise<void> => {
    await opts.onCheckpoint!({
      epoch,
      fingerprint,
      names: params.names,
      shapes: specs.map((s) => s.shape),
      params: params.vars.map(readMatrix),
      adam: opt.exportState(),
      rng: { noise: noiseRng.state(), order: orderRng.state() },
    });
  };
  const checkpointDue = (epoch: number): boolean =>
    Boolean(opts.checkpointEvery && opts.onCheckpoint && (epoch + 1) % opts.checkpointEvery === 0);
  let parts: Partial<Record<ProbePart, number>> = {};
  const timed = <T>(part: ProbePart, f: () => T): T => {
    const t = performance.now();
    const out = f();
    parts[part] = (parts[part] ?? 0) + performance.now() - t;
    return out;
  };
  /** What a clean forward over the training split gives an event: train_acc and h(x) of the
   * probe set (the head of the split), under the weights after the event's step. */
  interface CleanPass {
    trainAcc: number;
    probeRows: tf.Tensor2D | null;
  }
  /** The clean pass from a forward of its own. */
  const cleanPass = (): CleanPass =>
    timed('train_acc', () => {
      const { correct, rows } = forwardStats(params, train, dims, nProbe);
      return { trainAcc: correct / data.nTrain, probeRows: rows };
    });
  // The event of the last probe epoch, waiting for its clean pass (train_acc and the probe set's
  // h(x) for noise_sensitivity), and its checkpoint if one is due: events always leave before
  // the checkpoint that covers them.
  let pending: {
    epoch: number;
    probes: ProbeValues;
    checkpoint: boolean;
    noisy: tf.Tensor2D;
  } | null = null;
  /** Completes the pending event from its clean pass (probe work, timed as such). */
  const complete = (pass: CleanPass): void => {
    if (!pending) return;
    const { probes, noisy } = pending;
    probes.train_acc = Number.isFinite(pass.trainAcc) ? pass.trainAcc : null;
    const ns = timed('noise', () =>
      pass.probeRows ? noiseSensitivity(noisy, pass.probeRows) : (noisy.dispose(), Number.NaN),
    );
    probes.noise_sensitivity = Number.isFinite(ns) ? ns : null;
  };
  /** Sends the completed pending event, then its checkpoint when one is due. */
  const emit = async (): Promise<void> => {
    if (!pending) return;
    const { epoch: e, probes, checkpoint: due } = pending;
    pending = null;
    await opts.onEpoch({ epoch: e, probes });
    if (due) await checkpoint(e);
  };
  let matrixMemo: MatrixProbeMemo | null = null;
  /** Every probe of the epoch just stepped but those its clean pass completes, and h(x+ε). */
  const probeValues = (step: EpochStep, wPrev: Float32Array): { probes: ProbeValues; noisy: tf.Tensor2D } => {
    const { probes: matrix, memo } = timed('matrix', () =>
      computeMatrixProbes({
        W_prev: wPrev,
        W: readMatrix(embedding),
        G: step.gEmb!,
        clusters: data.clusters,
        cols: dims.d,
        memo: matrixMemo,
      }),
    );
    matrixMemo = memo;
    const { valLoss, valAcc } = timed('val', () => validation(params, heldOut, dims));
    const gn = matrix.grad_norm ?? Number.NaN;
    const probes: ProbeValues = {
      loss: step.loss,
      train_acc: null,
      val_loss: valLoss,
      val_acc: valAcc,
      grad_norm_total: Math.sqrt(gn * gn + step.otherGradSq),
      ...matrix,
      noise_sensitivity: null,
    };
    for (const [k, v] of Object.entries(probes)) {
      if (typeof v === 'number' && !Number.isFinite(v)) probes[k as keyof ProbeValues] = null;
    }
    return { probes, noisy: timed('noise', () => noisyProbeRows(params, heldOut, dims)) };
  };
  let epoch = resume ? resume.epoch + 1 : 0;
  const firstEpoch = epoch;
  // Aborted before `epoch` stepped: weights, moments and generators are those after epoch − 1.
  const aborted = async (): Promise<TrialRunResult> => {
    if (opts.checkpointOnAbort && opts.onCheckpoint && epoch > firstEpoch) await checkpoint(epoch - 1);
    return { status: 'aborted', epochs: epoch, reason: 'aborted' };
  };
  try {
    for (; epoch <= last; epoch++) {
      if (opts.signal?.aborted) {
        if (pending) {
          complete(cleanPass());
          await emit();
        }
        return await aborted();
      }
      const probeNow = epoch % config.probes.every === 0 || epoch === last;
      const t0 = performance.now();
      let waited = 0;
      parts = {};
      const wPrev = probeNow ? readMatrix(embedding) : null;
      const ctx: EpochContext = { train, dims, data, epoch, probeNow, noiseRng, orderRng, config };
      let step: EpochStep;
      if (fullBatch) {
        const g = fullBatchGradients(params, ctx, pending ? nProbe : 0);
        // This forward ran on the weights after the previous step: it is the clean pass that
        // completes that epoch's event.
        if (pending) {
          complete({ trainAcc: g.correct! / data.nTrain, probeRows: g.rows });
          const t = performance.now();
          await emit();
          // Time spent in the consumer is not training time.
          waited = performance.now() - t;
          if (opts.signal?.aborted) {
            tf.dispose(g.grads);
            // Only the reuse path gets here (full batch, no noise): no generator has moved.
            return await aborted();
          }
        }
        if (Number.isFinite(g.loss)) opt.apply(g.grads, config.train.lr, weightDecayAt(config, epoch));
        tf.dispose(g.grads);
        step = g;
      } else {
        step = minibatchEpoch(params, opt, ctx);
      }
      if (!Number.isFinite(step.loss)) {
        return { status: 'diverged', epochs: epoch, reason: `loss is ${step.loss} at epoch ${epoch}` };
      }
      const t1 = performance.now();
      // Probe work done inside the training phase (completing the previous event) counts as
      // probe time.
      const early = Object.values(parts).reduce((a, b) => a + b, 0);
      const timing = (): void =>
        opts.onTiming?.({
          epoch,
          trainMs: t1 - t0 - waited - early,
          probeMs: performance.now() - t1 + early,
          ...(probeNow ? { probeParts: parts } : {}),
        });
      if (probeNow) {
        const { probes, noisy } = probeValues(step, wPrev!);
        pending = { epoch, probes, checkpoint: reuse && epoch < last && checkpointDue(epoch), noisy };
        if (reuse && epoch < last) {
          timing();
          continue;
        }
        complete(cleanPass());
        timing();
        await emit();
      } else {
        timing();
      }
      if (checkpointDue(epoch)) await checkpoint(epoch);
    }
    return { status: 'completed', epochs: last + 1 };
  } finally {
    if (pending) pending.noisy.dispose();
    opt.dispose();
    tf.dispose(params.vars);
    train.forEach(disposeBatch);
    disposeHeldOut(heldOut);
  }
}
