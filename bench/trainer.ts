// `npm run bench:trainer`: what running a PyTorch loop under phasesweep costs. The same loop
// (bench/trainer_loop.py) runs bare, then as a command trainer leased by an in-process
// coordinator to an in-process worker: the protocol, the matrices, every probe computed by the
// worker, and the events stored in DuckDB. Both are timed per epoch over the same epochs after a
// warm-up; the runs alternate so drift on a shared machine hits both. Prints JSON.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Coordinator, silentLogger } from '../coordinator/index.js';
import { openDuckDbStore } from '../pipeline/index.js';
import { expandSweep, parseSweepYaml } from '../spec/index.js';
import { createEngine, WorkerAgent } from '../worker/index.js';

const LOOP = fileURLToPath(new URL('../../bench/trainer_loop.py', import.meta.url));

/** name → (V, d, N, L): the engine bench's small size, and the quickstart's. */
const SIZES: Record<string, { V: number; d: number; epochs: number }> = {
  small: { V: 256, d: 64, epochs: 40 },
  quickstart: { V: 64, d: 16, epochs: 400 },
};

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: 'small,quickstart' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '5' },
    python: { type: 'string', default: process.env['PHASESWEEP_TORCH_PYTHON'] ?? 'python3' },
  },
});
const warmup = Number(values.warmup);
const python = values.python;

function bare(size: string, epochs: number): number {
  const r = spawnSync(
    python,
    [LOOP, '--bare', '--size', size, '--epochs', String(epochs), '--warmup', String(warmup)],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`bare loop failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { ms_per_epoch: number }).ms_per_epoch;
}

/** Mean epoch period seen by the worker (event times), epochs warmup…end. */
async function underPhasesweep(size: string, epochs: number, dir: string): Promise<number> {
  const store = await openDuckDbStore(join(dir, `${size}.duckdb`));
  const times = new Map<number, number>();
  const coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    log: silentLogger,
    sinks: {
      probes: (events) => {
        for (const e of events) times.set(e.epoch, e.time_ms);
        return store.insertProbes(events);
      },
      trial: (e) => store.upsertTrial(e),
    },
  });
  void coordinator.run();
  const spec = parseSweepYaml(`
name: bench-${size}-${Date.now()}
seeds: [1]
base:
  trainer: { command: ${JSON.stringify([python, LOOP, '--size', size])} }
  train: { epochs: ${epochs} }
  probes: { probe_set: 64 }
`);
  const { sweepId } = coordinator.scheduler.submit(spec, expandSweep(spec));
  const agent = new WorkerAgent({
    coordinator: coordinator.address,
    engine: await createEngine('wasm'),
    log: silentLogger,
    prefetch: 0,
  });
  const running = agent.run();
  while (!coordinator.scheduler.registry.isDone(sweepId)) await new Promise((r) => setTimeout(r, 50));
  await agent.shutdown();
  await running;
  await coordinator.shutdown(1000);
  const stored = (await store.probeRows(sweepId)).length;
  await store.close();
  if (stored !== epochs) throw new Error(`${size}: ${stored} events stored, expected ${epochs}`);
  const first = times.get(warmup - 1)!;
  const last = times.get(epochs - 1)!;
  return (last - first) / (epochs - warmup);
}

/** Bytes of the matrices one epoch's report carries (float32). */
function matrixBytes(size: { V: number; d: number }, probeSet: number): number {
  return 4 * (2 * size.V * size.d + 2 * probeSet * size.d);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'phasesweep-bench-trainer-'));
const results = [];
try {
  for (const name of values.sizes.split(',')) {
    const size = SIZES[name];
    if (size === undefined) throw new Error(`unknown size ${name}`);
    const bareMs: number[] = [];
    const psMs: number[] = [];
    for (let r = 0; r < Number(values.rounds); r++) {
      bareMs.push(bare(name, size.epochs));
      psMs.push(await underPhasesweep(name, size.epochs, dir));
    }
    const b = median(bareMs);
    const p = median(psMs);
    results.push({
      size: name,
      bare_ms_per_epoch: Number(b.toFixed(2)),
      phasesweep_ms_per_epoch: Number(p.toFixed(2)),
      overhead_pct: Number((100 * (p / b - 1)).toFixed(1)),
      matrix_mb_per_s: Number((matrixBytes(size, 64) / (p / 1000) / 1e6).toFixed(2)),
      rounds: {
        bare_ms: bareMs.map((x) => Number(x.toFixed(2))),
        phasesweep_ms: psMs.map((x) => Number(x.toFixed(2))),
      },
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  JSON.stringify(
    { epochs: Object.fromEntries(Object.entries(SIZES).map(([k, v]) => [k, v.epochs])), warmup, results },
    null,
    2,
  ),
);
