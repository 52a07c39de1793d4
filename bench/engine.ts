// `npm run bench:engine`: milliseconds per epoch of the model on each engine that starts
// here, training step and probes timed apart (probes also by part), at three standard sizes,
// next to the PyTorch reference of the same model (bench/torch_reference.py) run in the same
// invocation when a Python with torch is at hand. Prints JSON.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TrialConfig } from '../spec/index.js';
import {
  clusterPurity,
  linearCka,
  meanPairwiseCos,
  singularValues,
  toDense,
} from '../worker/probes/index.js';
import {
  createEngine,
  runTrial,
  type Engine,
  type EpochTiming,
  type ProbePart,
} from '../worker/training/index.js';

interface Size {
  name: string;
  V: number;
  d: number;
  N: number;
  L: number;
}

const SIZES: Size[] = [
  { name: 'small', V: 256, d: 64, N: 1024, L: 16 },
  { name: 'medium', V: 1024, d: 128, N: 4096, L: 16 },
  { name: 'large', V: 4096, d: 256, N: 16384, L: 32 },
];

/** Rough sustained throughput (FLOP/s) per backend, only to skip runs that would take hours. */
const THROUGHPUT: Record<string, number> = { cpu: 1e9, wasm: 1.5e10 };

/** Forward+backward FLOPs of one epoch: 12·d² per token per layer (QKV, O, FFN 4d) × 2 × 3. */
function epochFlops(s: Size): number {
  return 6 * s.N * s.L * (12 * s.d * s.d + 2 * s.L * s.d);
}

const VAL_SIZE = 256;
const PROBE_SET = 64;

function config(s: Size, epochs: number): TrialConfig {
  return TrialConfig.parse({
    task: {
      kind: 'clustered-tokens',
      vocab: s.V,
      clusters: 4,
      seq_len: s.L,
      train_size: s.N,
      val_size: VAL_SIZE,
    },
    model: { d_model: s.d, heads: 1, layers: 1, ffn: 4 * s.d },
    train: { epochs, lr: 1e-3 },
    probes: { every: 1, probe_set: PROBE_SET },
  });
}

/**
 * The held-out forward passes' share of an epoch's FLOPs, as a percentage of the training step:
 * validation and probe-set sequences each cost one forward, a training sequence a forward and a
 * backward (twice the forward's FLOPs). Probes cannot cost less than this at the same
 * efficiency per FLOP.
 */
const heldOutForwardPct = (s: Size): number => round((100 * (VAL_SIZE + PROBE_SET)) / (3 * s.N));

interface Reference {
  /** backend (torch-cpu-1t, torch-cuda) → size → ms per epoch. */
  ms: Map<string, Map<string, number>>;
  raw: unknown;
}

/**
 * bench/torch_reference.py on `python` (PHASESWEEP_TORCH_PYTHON, else python3) for the same
 * sizes, one CPU thread; a string saying why when it cannot run.
 */
function torchReference(python: string, sizes: Size[], epochs: number): Reference | string {
  const script = fileURLToPath(new URL('../../bench/torch_reference.py', import.meta.url));
  let out: string;
  try {
    out = execFileSync(
      python,
      [script, '--sizes', sizes.map((s) => s.name).join(','), '--epochs', String(epochs), '--threads', '1'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 3_600_000 },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const why = (e.stderr ?? '').trim().split('\n').at(-1) || e.message;
    return `${python} ${script}: ${why}`;
  }
  const raw = JSON.parse(out) as { results: Array<{ backend: string; size: string; ms_per_epoch: number }> };
  const ms = new Map<string, Map<string, number>>();
  for (const r of raw.results) {
    const bySize = ms.get(r.backend) ?? new Map<string, number>();
    bySize.set(r.size, r.ms_per_epoch);
    ms.set(r.backend, bySize);
  }
  return { ms, raw };
}

/** Ratios of a tfjs result to the references for its size: CPU backends against one CPU thread,
 * GPU backends against CUDA. */
function ratios(ref: Reference | string, backend: string, size: string, msPerEpoch: number) {
  if (typeof ref === 'string') return {};
  const gpu = backend === 'webgpu' || backend === 'tensorflow-gpu';
  const key = gpu ? 'torch-cuda' : 'torch-cpu-1t';
  const base = ref.ms.get(key)?.get(size);
  if (base === undefined) return {};
  return gpu
    ? { torch_cuda_ms_per_epoch: base, vs_torch_cuda: Number((msPerEpoch / base).toFixed(2)) }
    : { torch_cpu_1t_ms_per_epoch: base, vs_torch_cpu_1t: Number((msPerEpoch / base).toFixed(2)) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const round = (x: number): number => Number(x.toFixed(1));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Steady-state cost of each matrix probe on an embedding of this size (ms, median of 5). */
function matrixProbeParts(s: Size): Record<string, number> {
  let seed = 1;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
  const w = toDense(Float32Array.from({ length: s.V * s.d }, rand), s.d);
  const wPrev = toDense(Float32Array.from({ length: s.V * s.d }, rand), s.d);
  const clusters = Int32Array.from({ length: s.V }, (_, i) => i % 4);
  const parts: Record<string, () => unknown> = {
    singular_values: () => singularValues(w),
    cka_prev: () => linearCka(w, wPrev),
    cluster_purity: () => clusterPurity(w, clusters),
    mean_pairwise_cos: () => meanPairwiseCos(w),
  };
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(parts)) {
    const ts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const t = performance.now();
      f();
      ts.push(performance.now() - t);
    }
    out[name] = Number(median(ts.slice(3)).toFixed(2));
  }
  return out;
}

/**
 * Epochs run before the timed ones: the first pays for kernel compilation and heap growth, the
 * second still runs the probe math unoptimised (V8 compiles it on its first calls).
 */
const WARMUP_EPOCHS = 2;

async function benchOne(engine: Engine, s: Size, epochs: number) {
  const timings: EpochTiming[] = [];
  // CPU time between consecutive epochs' ends: on a shared machine wall time also counts the
  // waits for a core, CPU time much less so.
  const cpuMarks: number[] = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const result = await runTrial({
    config: config(s, epochs + WARMUP_EPOCHS),
    seed: 0,
    engine,
    onEpoch: () => undefined,
    onTiming: (t) => {
      timings.push(t);
      cpuMarks.push(cpuNow());
    },
  });
  const cpuPerEpoch = cpuMarks.slice(WARMUP_EPOCHS).map((c, i) => c - cpuMarks[WARMUP_EPOCHS - 1 + i]!);
  const steady = timings.slice(WARMUP_EPOCHS);
  const train = median(steady.map((t) => t.trainMs));
  const probe = median(steady.map((t) => t.probeMs));
  const parts: Partial<Record<ProbePart, number>> = {};
  for (const part of ['matrix', 'val', 'noise', 'train_acc'] as const) {
    parts[part] = round(sum(steady.map((t) => t.probeParts?.[part] ?? 0)) / steady.length);
  }
  return {
    status: result.status,
    ms_per_epoch: round(train),
    probe_ms_per_epoch: round(probe),
    /** CPU time per epoch, training and probes together (median). */
    cpu_ms_per_epoch: round(median(cpuPerEpoch)),
    /** Median probe time over median training time: the steady-state cost of probing. */
    probe_overhead_pct: round((100 * probe) / train),
    /** Means over the timed epochs, including the one extra train_acc pass after the last. */
    probe_overhead_pct_mean: round(
      (100 * sum(steady.map((t) => t.probeMs))) / sum(steady.map((t) => t.trainMs)),
    ),
    probe_parts_ms_mean: parts,
    heldout_forward_pct: heldOutForwardPct(s),
    matrix_probe_parts_ms: matrixProbeParts(s),
    warmup_epoch_ms: timings.slice(0, WARMUP_EPOCHS).map((t) => round(t.trainMs + t.probeMs)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: 'small,medium,large' },
      engines: { type: 'string', default: 'tensorflow-gpu,webgpu,tensorflow,wasm,cpu' },
      epochs: { type: 'string', default: '5' },
      'max-epoch-s': { type: 'string', default: '60' },
      /** Python with torch for the reference; "none" skips it. */
      torch: { type: 'string', default: process.env['PHASESWEEP_TORCH_PYTHON'] ?? 'python3' },
    },
  });
  const epochs = Math.max(1, Number(values.epochs));
  const maxEpochS = Number(values['max-epoch-s']);
  const sizes = values.sizes.split(',').map((n) => {
    const s = SIZES.find((x) => x.name === n.trim());
    if (!s) throw new Error(`unknown size "${n}" (small, medium, large)`);
    return s;
  });
  const results: Record<string, unknown>[] = [];
  const unavailable: Record<string, string> = {};
  for (const name of values.engines.split(',').map((e) => e.trim())) {
    let engine: Engine;
    try {
      engine = await createEngine(name);
    } catch (err) {
      unavailable[name] = (err as Error).message;
      continue;
    }
    for (const s of sizes) {
      const size = `${s.V},${s.d},${s.N},${s.L}`;
      const rate = THROUGHPUT[engine.info.backend];
      const estimate = rate ? epochFlops(s) / rate : 0;
      if (estimate > maxEpochS) {
        results.push({
          backend: engine.info.backend,
          size,
          skipped: `estimated ${Math.round(estimate)} s per epoch on ${engine.info.backend} (over --max-epoch-s ${maxEpochS})`,
        });
        continue;
      }
      process.stderr.write(`bench: ${name} ${s.name} (${size})…\n`);
      results.push({
        backend: engine.info.backend,
        engine: engine.info.engine,
        size,
        ...(await benchOne(engine, s, epochs)),
      });
    }
  }
  if (values.torch === 'none') {
    process.stdout.write(`${JSON.stringify({ epochs, results, unavailable }, null, 2)}\n`);
    return;
  }
  process.stderr.write(`bench: PyTorch reference (${values.torch})…\n`);
  const ref = torchReference(values.torch, sizes, epochs);
  for (const r of results) {
    if (typeof r['ms_per_epoch'] === 'number')
      Object.assign(r, ratios(ref, String(r['backend']), String(r['size']), r['ms_per_epoch']));
  }
  const reference = typeof ref === 'string' ? { unavailable: ref } : ref.raw;
  process.stdout.write(`${JSON.stringify({ epochs, results, unavailable, reference }, null, 2)}\n`);
}

await main();
