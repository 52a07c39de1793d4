// A worker with several slots against a real coordinator over gRPC: it trains trials side by side
// (the same results as one at a time), a GPU worker's hello reaches the scheduler and its trials
// hold one GPU each, and shutdown gives up on a trial that will not hand back in time.
import { describe, expect, it } from 'vitest';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import { PhasesweepError } from '../../spec/errors.js';
import type { Device, ProbeEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml, type PlannedTrial } from '../../spec/index.js';
import { createEngine, WorkerAgent, type ProbeSink, type WorkerOptions } from '../../worker/index.js';
import { runCli, startCli } from '../support/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spec = (name: string, epochs: number) =>
  parseSweepYaml(`
name: ${name}
seeds: 2
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${epochs} }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.1]
`);

async function harness(name: string, epochs: number, gpu = 0) {
  const events: ProbeEvent[] = [];
  const coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    log: silentLogger,
    sinks: {
      probes: (e) => {
        events.push(...e);
        return Promise.resolve();
      },
      trial: () => Promise.resolve(),
    },
  });
  void coordinator.run();
  const s = spec(name, epochs);
  const planned: PlannedTrial[] = expandSweep(s).map((p) => ({
    ...p,
    config: { ...p.config, resources: { gpu } },
  }));
  coordinator.scheduler.submit(s, planned);
  const engine = await createEngine('wasm');
  const agent = (o: Partial<WorkerOptions>) =>
    new WorkerAgent({ coordinator: coordinator.address, engine, log: silentLogger, workerId: 'w', ...o });
  return {
    coordinator,
    agent,
    events,
    leased: () => coordinator.scheduler.registry.countByState(name).leased,
  };
}

/** Runs the agent until the sweep is done, sampling `sample` every few ms meanwhile. */
async function runToEnd(h: Awaited<ReturnType<typeof harness>>, agent: WorkerAgent, sample = () => {}) {
  const running = agent.run();
  const name = h.coordinator.scheduler.registry.list()[0]!.sweepId;
  while (!h.coordinator.scheduler.registry.isDone(name)) {
    sample();
    await sleep(5);
  }
  await agent.shutdown();
  await running;
  await h.coordinator.shutdown(1000);
}

const series = (events: ProbeEvent[]) =>
  Object.fromEntries(events.map((e) => [`${e.trial_id}:${e.epoch}`, [e.loss, e.eff_rank, e.val_acc]]));

describe('a worker with several slots', () => {
  it('trains two trials at once, with the same results as one at a time', async () => {
    const one = await harness('one', 30);
    let mostOne = 0;
    await runToEnd(one, one.agent({ prefetch: 0 }), () => (mostOne = Math.max(mostOne, one.leased())));

    const two = await harness('two', 30);
    let mostTwo = 0;
    await runToEnd(
      two,
      two.agent({ prefetch: 0, slots: 2, builtinSlots: 2 }),
      () => (mostTwo = Math.max(mostTwo, two.leased())),
    );
    expect(mostOne).toBe(1);
    expect(mostTwo).toBe(2);
    expect(two.events).toHaveLength(4 * 30);
    expect(new Set(two.events.map((e) => `${e.trial_id}:${e.epoch}`)).size).toBe(4 * 30);
    expect(series(two.events)).toEqual(series(one.events));
  });

  it('advertises its GPUs; each GPU trial holds one of them, one trial per GPU', async () => {
    const h = await harness('gpus', 40, 1);
    const devices: Device[] = [0, 1].map((index) => ({
      kind: 'cuda',
      index,
      name: 'test GPU',
      memory_bytes: 0,
    }));
    const seen = new Set<string>();
    await runToEnd(h, h.agent({ devices, trialsPerGpu: 1, slots: 2, builtinSlots: 2, prefetch: 1 }), () => {
      const use = h.coordinator.scheduler.gpusInUse('w') ?? new Map<string, number>();
      seen.add(JSON.stringify(Object.fromEntries([...use].sort())));
    });
    expect(seen).toContain(JSON.stringify({ 'cuda:0': 1, 'cuda:1': 1 }));
    for (const s of seen)
      for (const n of Object.values(JSON.parse(s) as Record<string, number>)) expect(n).toBe(1);
    expect(h.coordinator.scheduler.registry.countByState('gpus')).toMatchObject({ completed: 4 });
    expect(h.coordinator.scheduler.gpusInUse('w')).toEqual(new Map());
  });
});

describe('worker lifecycle', () => {
  it('runs once, and shutdown stops without a trial that does not hand back in time', async () => {
    const h = await harness('stuck', 100_000);
    let stuck = false;
    const sink: ProbeSink = {
      publish: () => Promise.resolve(),
      flush: () => (stuck ? new Promise<void>(() => {}) : Promise.resolve()),
      close: () => Promise.resolve(),
    };
    const errors: string[] = [];
    const log = { ...silentLogger, error: (m: string) => errors.push(m) };
    const agent = h.agent({ sink, log, stopTimeoutMs: 300, prefetch: 0 });
    const running = agent.run();
    await expect(agent.run()).rejects.toThrow(PhasesweepError);
    while (h.leased() === 0) await sleep(10);
    await sleep(100);
    stuck = true; // the trial's last flush never returns
    const started = Date.now();
    await agent.shutdown();
    await running;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(agent.state).toBe('stopped');
    expect(errors.join('\n')).toMatch(/1 trials still running 300 ms after shutdown began/);
    expect(h.leased()).toBe(1); // never handed back: its lease expires on the coordinator
    await h.coordinator.shutdown(1000);
  });

  it('shut down before it ran, run() returns at once', async () => {
    const h = await harness('never', 5);
    const agent = h.agent({});
    await agent.shutdown();
    await agent.run();
    expect(agent.state).toBe('stopped');
    expect(h.leased()).toBe(0);
    await h.coordinator.shutdown(1000);
  });
});

describe('phasesweep worker --gpus / --trials-per-gpu / --slots', () => {
  it('rejects bad values with exit code 2', async () => {
    const bad = await runCli(['worker', '--coordinator', '127.0.0.1:1', '--gpus', 'cuda:0']);
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--gpus: expected auto, none or GPU indices like 0,1; got "cuda:0"/);
    const slots = await runCli(['worker', '--coordinator', '127.0.0.1:1', '--slots', '0']);
    expect(slots.code).toBe(2);
    expect(slots.output).toMatch(/--slots: expected an integer ≥ 1/);
  });

  it('advertises the GPUs it is given and trains GPU trials on them', async () => {
    const h = await harness('cli-gpus', 5, 1);
    const args = ['worker', '--coordinator', h.coordinator.address, '--engine', 'wasm', '--id', 'cli'];
    const worker = startCli([...args, '--gpus', '0,1', '--trials-per-gpu', '2']);
    try {
      await worker.waitFor(/devices cuda:0, cuda:1; 4 slots \(2 trials per GPU\)/);
      let held = 0;
      while (!h.coordinator.scheduler.registry.isDone('cli-gpus')) {
        for (const n of h.coordinator.scheduler.gpusInUse('cli')?.values() ?? []) held = Math.max(held, n);
        await sleep(5);
      }
      expect(held).toBeGreaterThan(0);
      expect(h.coordinator.scheduler.registry.countByState('cli-gpus')).toMatchObject({ completed: 4 });
    } finally {
      await worker.stop();
      await h.coordinator.shutdown(1000);
    }
  });
});
