// The pure parts of the command trainer: whose turn it is, what an epoch report may carry, the
// probes computed from its matrices (W_prev kept across reports and across a checkpoint), the
// worker's checkpoint envelope, the trainer's environment, and noise_sensitivity.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TrialConfig } from '../../spec/index.js';
import { computeMatrixProbes, noiseSensitivityOf, toDense } from '../../worker/probes/index.js';
import { noiseSensitivity } from '../../worker/training/compute.js';
import { Conversation } from '../../worker/trainers/command/conversation.js';
import { decodeCommandCheckpoint, encodeCommandCheckpoint } from '../../worker/trainers/command/envelope.js';
import { cudaVisibleDevices, trainerDevice, trainerEnv } from '../../worker/trainers/command/environment.js';
import { parseEpochReport, type EpochReport } from '../../worker/trainers/command/epoch-report.js';
import type { Frame, FrameHeader } from '../../worker/trainers/command/frame-codec.js';
import { ProbeTracker } from '../../worker/trainers/command/probe-tracker.js';
import { ProtocolViolation, UnsupportedProtocol } from '../../worker/trainers/command/protocol-violation.js';

interface M {
  name: string;
  dtype?: 'float32' | 'float64';
  rows: number;
  cols: number;
  values: number[];
}

/** An epoch frame with these scalars and matrices packed into its payload. */
function epochFrame(epoch: number, matrices: M[] = [], extra: Record<string, unknown> = {}): Frame {
  const parts: Buffer[] = [];
  const entries = [];
  let offset = 0;
  for (const m of matrices) {
    const dtype = m.dtype ?? 'float32';
    const w = dtype === 'float32' ? 4 : 8;
    const b = Buffer.alloc(m.rows * m.cols * w);
    m.values.forEach((v, i) => (w === 4 ? b.writeFloatLE(v, 4 * i) : b.writeDoubleLE(v, 8 * i)));
    entries.push({ name: m.name, dtype, shape: [m.rows, m.cols], offset, bytes: b.length });
    parts.push(b);
    offset += b.length;
  }
  const payload = Buffer.concat(parts);
  const header: FrameHeader = {
    type: 'epoch',
    epoch,
    scalars: { loss: 1 },
    matrices: entries,
    payload: payload.length,
    ...extra,
  };
  return { header, payload };
}

const frame = (header: FrameHeader): Frame => ({ header, payload: Buffer.alloc(0) });

function fails(f: () => unknown): ProtocolViolation {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolViolation);
    return err as ProtocolViolation;
  }
  throw new Error('expected a protocol violation');
}

/** A conversation past hello and start. */
function started(firstEpoch = 0, epochs = 5): Conversation {
  const c = new Conversation({ firstEpoch, epochs });
  c.receive(frame({ type: 'hello', protocol: 1 }), 0);
  c.started();
  return c;
}

const W = (k: number, rows = 3, cols = 2) => Array.from({ length: rows * cols }, (_, i) => Math.sin(i + k));

describe('the conversation', () => {
  it('goes hello → start → epoch → reply … → done, and tells what may come next', () => {
    const c = new Conversation({ firstEpoch: 0, epochs: 2 });
    expect(c.expecting).toBe('hello');
    const hello = c.receive(
      frame({ type: 'hello', protocol: 1, client: 'x/1', versions: { torch: '2' } }),
      0,
    );
    expect(hello).toEqual({ type: 'hello', client: 'x/1', versions: { torch: '2' } });
    c.started();
    expect(c.receive(epochFrame(0), 1).type).toBe('epoch');
    expect(c.reply('checkpoint')).toEqual({ type: 'reply', action: 'checkpoint' });
    expect(c.expecting).toBe('checkpoint');
    const ck = c.receive(
      { header: { type: 'checkpoint', epoch: 0, payload: 2 }, payload: Buffer.from('{}') },
      2,
    );
    expect(ck).toMatchObject({ type: 'checkpoint', epoch: 0, source: { payload: Buffer.from('{}') } });
    expect(c.reply('continue')).toEqual({ type: 'reply', action: 'continue' });
    c.receive(epochFrame(1), 3);
    c.reply('continue');
    expect(c.receive(frame({ type: 'done', status: 'completed' }), 4)).toEqual({
      type: 'done',
      status: 'completed',
      reason: undefined,
    });
    expect(c.expecting).toBe('nothing');
    expect(fails(() => c.receive(frame({ type: 'epoch' }), 4)).field).toBe('type');
  });

  it('rejects frames out of order, out of turn, or of unknown type', () => {
    const fresh = () => new Conversation({ firstEpoch: 0, epochs: 5 });
    expect(fails(() => fresh().receive(epochFrame(0), 0)).message).toBe(
      'type: "epoch" before hello; hello comes first',
    );
    const c = started();
    expect(fails(() => c.receive(frame({ type: 'hello', protocol: 1 }), 1)).message).toBe(
      'type: hello only as the first frame',
    );
    expect(fails(() => started().receive(frame({ type: 'progress' }), 1)).message).toBe(
      'type: unknown frame type "progress"',
    );
    expect(fails(() => started().receive(epochFrame(1), 1)).message).toBe('epoch: 1, expected 0');
    expect(fails(() => started(3, 4).receive(epochFrame(4), 1)).message).toBe('epoch: 4, expected 3');
    expect(fails(() => started(4, 4).receive(epochFrame(4), 1)).message).toBe(
      "epoch: 4 is past the trial's last epoch 3",
    );
    // Sent before the worker's reply to epoch 0 went out (it arrived when 1 message had been sent).
    const turn = started();
    turn.receive(epochFrame(0), 1);
    turn.reply('continue');
    const late = fails(() => turn.receive(epochFrame(1), 1));
    expect(late.message).toBe(
      'type: "epoch" sent before the worker answered the previous frame (out of turn)',
    );
    expect(turn.epoch).toBe(1);
    expect(fails(() => started().receive(frame({ type: 'checkpoint', epoch: 0 }), 1)).message).toBe(
      'type: "checkpoint" only right after a reply asking for one',
    );
  });

  it('checks checkpoints and done', () => {
    const asked = () => {
      const c = started();
      c.receive(epochFrame(0), 1);
      c.reply('checkpoint');
      return c;
    };
    expect(fails(() => asked().receive(frame({ type: 'checkpoint', epoch: 1 }), 2)).message).toBe(
      'checkpoint.epoch: 1, expected 0',
    );
    expect(
      fails(() => asked().receive(frame({ type: 'checkpoint', epoch: 0, path: 'rel/x' }), 2)).field,
    ).toBe('checkpoint.path');
    expect(asked().receive(frame({ type: 'checkpoint', epoch: 0, path: '/tmp/x' }), 2)).toMatchObject({
      source: { path: '/tmp/x' },
    });
    expect(fails(() => asked().receive(epochFrame(1), 2)).message).toBe(
      'type: "epoch" where the worker asked for a checkpoint of epoch 0',
    );
    expect(asked().epoch).toBe(0);
    expect(fails(() => started().receive(frame({ type: 'done', status: 'completed' }), 1)).message).toBe(
      'done.status: "completed", but epoch 0 of 0…4 is not reported yet',
    );
    expect(fails(() => started().receive(frame({ type: 'done', status: 'ok' }), 1)).field).toBe(
      'done.status',
    );
    expect(started().receive(frame({ type: 'done', status: 'diverged', reason: 'nan' }), 1)).toMatchObject({
      status: 'diverged',
      reason: 'nan',
    });
  });

  it('fails hello with another protocol version as unsupported, and bad hello fields as violations', () => {
    const c = new Conversation({ firstEpoch: 0, epochs: 1 });
    expect(() => c.receive(frame({ type: 'hello', protocol: 2 }), 0)).toThrow(UnsupportedProtocol);
    expect(() => new Conversation({ firstEpoch: 0, epochs: 1 }).receive(frame({ type: 'hello' }), 0)).toThrow(
      /hello\.protocol: unknown protocol version undefined; this worker speaks 1/,
    );
    expect(
      fails(() =>
        new Conversation({ firstEpoch: 0, epochs: 1 }).receive(
          frame({ type: 'hello', protocol: 1, versions: [] }),
          0,
        ),
      ).field,
    ).toBe('hello.versions');
  });

  it('answers only what was asked', () => {
    const c = started();
    expect(() => c.reply('continue')).toThrow(/answers an epoch or checkpoint/);
    c.receive(epochFrame(0), 1);
    c.reply('checkpoint');
    c.receive(frame({ type: 'checkpoint', epoch: 0 }), 2);
    expect(() => c.reply('checkpoint')).toThrow(/asked for in the reply to an epoch report/);
    expect(c.reply('stop', 'shutdown')).toEqual({ type: 'reply', action: 'stop', reason: 'shutdown' });
    expect(c.expecting).toBe('nothing');
  });
});

describe('epoch reports', () => {
  const report = (f: Frame): EpochReport => parseEpochReport(f.header, f.payload);

  it('splits scalars into probes and user scalars, dropping null and overflowed values', () => {
    const r = report(
      epochFrame(0, [], {
        scalars: { loss: 0.5, val_acc: null, 'my.metric-1': 2, big: Number.POSITIVE_INFINITY, none: null },
      }),
    );
    expect(r.probes).toEqual({ loss: 0.5, val_acc: null });
    expect(r.scalars).toEqual({ 'my.metric-1': 2 });
  });

  it('names every bad scalar', () => {
    const bad = (scalars: unknown) => fails(() => report(epochFrame(0, [], { scalars }))).message;
    expect(bad(undefined)).toBe('scalars: required: an object of name → number or null');
    expect(bad({ acc: 1 })).toBe('scalars.loss: required: a number');
    expect(bad({ loss: null })).toBe('scalars.loss: required: a number');
    expect(bad({ loss: 1, x: '1' })).toBe('scalars.x: "1" is not a number or null');
    expect(bad({ loss: 1, 'a b': 1 })).toBe('scalars.a b: a name is 1–64 characters from A–Z a–z 0–9 _ . -');
    expect(bad({ loss: 1, [`x${'y'.repeat(64)}`]: 1 })).toMatch(/a name is 1–64 characters/);
    expect(bad({ loss: 1, eff_rank: 3 })).toBe(
      'scalars.eff_rank: computed by the worker from the matrices; not accepted as a scalar',
    );
    expect(bad({ loss: Number.POSITIVE_INFINITY })).toBe(
      'scalars.loss: not finite: send done with status "diverged" instead',
    );
  });

  it('decodes float32 and float64 matrices, ignores unknown names, and names every bad one', () => {
    const r = report(
      epochFrame(0, [
        { name: 'embedding', rows: 3, cols: 2, values: W(0) },
        { name: 'embedding_grad', dtype: 'float64', rows: 3, cols: 2, values: W(1) },
        { name: 'attention', rows: 1, cols: 1, values: [Number.NaN] },
      ]),
    );
    expect([...r.matrices.embedding!.data]).toEqual(W(0).map(Math.fround));
    expect([...r.matrices.embedding_grad!.data]).toEqual(W(1));
    expect(r.matrices.embedding!.dtype).toBe('float32');
    expect(Object.keys(r.matrices)).toEqual(['embedding', 'embedding_grad']);

    const good = epochFrame(0, [{ name: 'embedding', rows: 3, cols: 2, values: W(0) }]);
    const tweak = (change: Record<string, unknown>) => {
      const m = (good.header['matrices'] as Record<string, unknown>[])[0]!;
      return fails(() => parseEpochReport({ ...good.header, matrices: [{ ...m, ...change }] }, good.payload))
        .message;
    };
    expect(tweak({ dtype: 'int8' })).toBe('matrices.embedding.dtype: "int8" is not "float32" or "float64"');
    expect(tweak({ shape: [3] })).toBe(
      'matrices.embedding.shape: [3] is not [rows, cols] of positive integers',
    );
    expect(tweak({ bytes: 20 })).toBe('matrices.embedding.bytes: 20, but 3 × 2 float32 is 24');
    expect(tweak({ offset: 4 })).toBe(
      'matrices.embedding.offset: bytes 4…28 lie outside the payload of 24 bytes',
    );
    expect(tweak({ name: '' })).toBe('matrices[0].name: required: a string');
    const nan = epochFrame(0, [{ name: 'embedding', rows: 3, cols: 2, values: [0, 0, 0, Number.NaN, 0, 0] }]);
    expect(fails(() => report(nan)).message).toBe('matrices.embedding: non-finite value NaN at [1, 1]');
    const twice = epochFrame(0, [
      { name: 'embedding', rows: 1, cols: 1, values: [1] },
      { name: 'embedding', rows: 1, cols: 1, values: [1] },
    ]);
    expect(fails(() => report(twice)).message).toBe('matrices.embedding: sent twice in one report');
  });

  it('checks shapes within a report', () => {
    const mismatch = epochFrame(0, [
      { name: 'embedding', rows: 3, cols: 2, values: W(0) },
      { name: 'embedding_init', rows: 2, cols: 3, values: W(0) },
    ]);
    expect(fails(() => report(mismatch)).message).toBe(
      "matrices.embedding_init.shape: [2, 3] differs from the embedding's [3, 2]",
    );
    const probes = epochFrame(0, [
      { name: 'probe_clean', rows: 2, cols: 2, values: [1, 2, 3, 4] },
      { name: 'probe_noisy', rows: 1, cols: 4, values: [1, 2, 3, 4] },
    ]);
    expect(fails(() => report(probes)).field).toBe('matrices.probe_noisy.shape');
    const both = epochFrame(0, [{ name: 'embedding_grad', rows: 1, cols: 1, values: [1] }], {
      scalars: { loss: 1, grad_norm: 2 },
    });
    expect(fails(() => report(both)).field).toBe('scalars.grad_norm');
    expect(fails(() => report(epochFrame(0, [], { clusters: [1, 'a'] }))).field).toBe('clusters');
  });
});

describe('probes from reported matrices', () => {
  const reportAt = (epoch: number, k: number, more: M[] = [], extra: Record<string, unknown> = {}) => {
    const f = epochFrame(epoch, [{ name: 'embedding', rows: 3, cols: 2, values: W(k) }, ...more], extra);
    return parseEpochReport(f.header, f.payload);
  };
  const grad = (k: number): M => ({
    name: 'embedding_grad',
    dtype: 'float64',
    rows: 3,
    cols: 2,
    values: W(k + 7),
  });

  it('computes every matrix probe with the built-in engine’s code, W_prev the previous report’s embedding', () => {
    const t = new ProbeTracker();
    const init: M = { name: 'embedding_init', rows: 3, cols: 2, values: W(-1) };
    const clusters = { clusters: [0, 1, 0] };
    const e0 = t.observe(reportAt(0, 0, [init, grad(0)], clusters), true).probes;
    const e1 = t.observe(reportAt(1, 1, [grad(1)]), true).probes;
    const f32 = (k: number) => Float64Array.from(W(k).map(Math.fround));
    const want0 = computeMatrixProbes({
      W_prev: f32(-1),
      W: f32(0),
      G: Float64Array.from(W(7)),
      clusters: [0, 1, 0],
      cols: 2,
    });
    const want1 = computeMatrixProbes({
      W_prev: f32(0),
      W: f32(1),
      G: Float64Array.from(W(8)),
      clusters: [0, 1, 0],
      cols: 2,
    });
    expect(e0).toEqual({ loss: 1, ...want0.probes });
    expect(e1).toEqual({ loss: 1, ...want1.probes });
    expect(e1.cluster_purity).toEqual(expect.any(Number));
  });

  it('leaves W_prev probes unset without a previous embedding, and grad probes to the scalars without a gradient', () => {
    const t = new ProbeTracker();
    const p = t.observe(reportAt(0, 0, [], { scalars: { loss: 1, grad_norm: 3 } }), true).probes;
    expect(p.drift).toBeNull();
    expect(p.cka_prev).toBeNull();
    expect(p.stability).toBeNull();
    expect(p.grad_norm).toBe(3);
    expect(p.emb_norm).toEqual(expect.any(Number));
    const q = t.observe(reportAt(1, 1, [], { scalars: { loss: 1, grad_norm: 3 } }), true).probes;
    expect(q.drift).toEqual(expect.any(Number));
    expect(q.grad_drift_ratio).toBeCloseTo(3 / q.drift!, 12);
    // Not computed on epochs without an event, but W_prev still moves on.
    expect(t.observe(reportAt(2, 2), false).probes).toEqual({});
    const r = t.observe(reportAt(3, 3), true).probes;
    const f32 = (k: number) => Float64Array.from(W(k).map(Math.fround));
    expect(r.drift).toBe(
      computeMatrixProbes({ W_prev: f32(2), W: f32(3), G: new Float64Array(6), cols: 2 }).probes.drift,
    );
    expect(r.grad_norm).toBeUndefined();
  });

  it('rejects a matrix whose shape changes across reports, and clusters that do not fit the embedding', () => {
    const t = new ProbeTracker();
    t.observe(reportAt(0, 0), true);
    const wide = epochFrame(1, [{ name: 'embedding', rows: 2, cols: 3, values: W(1) }]);
    expect(fails(() => t.observe(parseEpochReport(wide.header, wide.payload), true)).message).toBe(
      'matrices.embedding.shape: [2, 3], but earlier reports sent [3, 2]',
    );
    expect(
      fails(() => new ProbeTracker().observe(reportAt(0, 0, [], { clusters: [0, 1] }), true)).message,
    ).toBe('clusters: 2 labels for an embedding of 3 rows');
  });

  it('resumes from its checkpointed state with exactly the probes of an uninterrupted run', () => {
    const clusters = { clusters: [2, 2, 1] };
    const whole = new ProbeTracker();
    const a = [0, 1, 2, 3].map((e) =>
      whole.observe(reportAt(e, e, [grad(e)], e === 0 ? clusters : {}), true),
    );
    const first = new ProbeTracker();
    first.observe(reportAt(0, 0, [grad(0)], clusters), true);
    first.observe(reportAt(1, 1, [grad(1)]), true);
    const bytes = encodeCommandCheckpoint({ epoch: 1, trainer: Buffer.from('state'), probes: first.state() });
    const back = decodeCommandCheckpoint(bytes);
    expect(Buffer.from(back.trainer).toString()).toBe('state');
    expect(back.epoch).toBe(1);
    const resumed = new ProbeTracker(back.probes);
    const b = [2, 3].map((e) => resumed.observe(reportAt(e, e, [grad(e)]), true));
    expect(b).toEqual(a.slice(2));
    expect(b[0]!.probes.cluster_purity).toEqual(expect.any(Number));
  });

  it('stores W_prev bit for bit in the envelope, float32 or float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const data =
        dtype === 'float32' ? Float32Array.from([0.1, -2.5, 1e-30]) : Float64Array.from([0.1, -2.5, 1e-300]);
      const c = {
        epoch: 7,
        trainer: new Uint8Array([9, 8, 7]),
        probes: {
          wPrev: { rows: 1, cols: 3, dtype, data },
          clusters: [0, 1, 2],
          shapes: { embedding: [1, 3] as [number, number] },
        },
      };
      const back = decodeCommandCheckpoint(encodeCommandCheckpoint(c));
      expect(back.probes.wPrev!.data).toEqual(data);
      expect(back.probes.wPrev!.dtype).toBe(dtype);
      expect(back).toEqual({ ...c, trainer: new Uint8Array([9, 8, 7]) });
    }
    const none = decodeCommandCheckpoint(
      encodeCommandCheckpoint({
        epoch: 0,
        trainer: new Uint8Array(),
        probes: { wPrev: null, clusters: null, shapes: {} },
      }),
    );
    expect(none.probes.wPrev).toBeNull();
    expect(() => decodeCommandCheckpoint(new Uint8Array(20))).toThrow(
      /not a command-trainer checkpoint: bad magic/,
    );
  });

  it('computes noise_sensitivity as the built-in engine does on its tensors', () => {
    const clean = Array.from({ length: 8 * 5 }, (_, i) => Math.cos(i * 0.7) + 0.2);
    const noisy = clean.map((v, i) => v + 0.05 * Math.sin(i * 1.3));
    const ours = noiseSensitivityOf(
      toDense(Float64Array.from(noisy), 5),
      toDense(Float64Array.from(clean), 5),
    );
    const theirs = noiseSensitivity(tf.tensor2d(noisy, [8, 5]), tf.tensor2d(clean, [8, 5]));
    expect(ours).toBeCloseTo(theirs, 6);
    // A zero clean row makes both non-finite (reported as null).
    const zero = [...clean.slice(0, 35), 0, 0, 0, 0, 0];
    expect(
      Number.isFinite(
        noiseSensitivityOf(toDense(Float64Array.from(noisy), 5), toDense(Float64Array.from(zero), 5)),
      ),
    ).toBe(false);
    expect(Number.isFinite(noiseSensitivity(tf.tensor2d(noisy, [8, 5]), tf.tensor2d(zero, [8, 5])))).toBe(
      false,
    );
  });
});

describe('the trainer environment', () => {
  const trainer = (env: Record<string, string> = {}) => {
    const c = TrialConfig.parse({ trainer: { command: ['x'], env } });
    return c.trainer === 'builtin' ? undefined! : c.trainer;
  };

  it('adds the protocol variables and the spec’s env to the worker’s environment', () => {
    const env = trainerEnv(
      { PATH: '/bin', HOME: '/h', CUDA_VISIBLE_DEVICES: '0,1' },
      { trainer: trainer({ OMP_NUM_THREADS: '1' }), trialId: 't1', attempt: 2, devices: [], gpus: 0 },
    );
    expect(env).toEqual({
      PATH: '/bin',
      HOME: '/h',
      OMP_NUM_THREADS: '1',
      PHASESWEEP_FD: '3',
      PHASESWEEP_PROTOCOL: '1',
      PHASESWEEP_TRIAL_ID: 't1',
      PHASESWEEP_ATTEMPT: '2',
      // A trial that asked for no GPU sees none.
      CUDA_VISIBLE_DEVICES: '',
    });
  });

  it('shows a trial the GPUs set aside for it', () => {
    expect(cudaVisibleDevices(['cuda:2', 'cuda:0'])).toBe('2,0');
    expect(cudaVisibleDevices(['webgpu:0'])).toBe('');
    expect(trainerDevice(['cuda:1'])).toBe('cuda');
    expect(trainerDevice([])).toBe('cpu');
    const base = { trainer: trainer(), trialId: 't', attempt: 1 };
    expect(trainerEnv({}, { ...base, devices: ['cuda:3'], gpus: 1 })['CUDA_VISIBLE_DEVICES']).toBe('3');
    // Asked for a GPU but none was set aside: what the worker sees.
    expect(
      trainerEnv({ CUDA_VISIBLE_DEVICES: '5' }, { ...base, devices: [], gpus: 1 })['CUDA_VISIBLE_DEVICES'],
    ).toBe('5');
  });
});
