// A trial status event goes out only once the state change it reports is durable. Found by the
// fault run (seed 3): NATS restarted, the coordinator's KV writes failed and were being retried
// when a trial completed; the 'completed' event went out at once, then the coordinator was
// killed, came back without the completion, re-leased the trial and a second attempt completed
// it too. Here the state store fails while the trial completes: no event until it recovers.
import { describe, expect, it } from 'vitest';
import { Coordinator, silentLogger, type StateStore } from '../../coordinator/index.js';
import type { TrialEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';
import { createEngine, WorkerAgent } from '../../worker/index.js';

const spec = parseSweepYaml(`
name: durable-events
seeds: 1
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 60 }
  probes: { probe_set: 8 }
`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Keeps JSON copies of what was written (what a restarted coordinator would load); fails on demand. */
function flakyStore() {
  const trials = new Map<string, { state: string }>();
  const store = {
    failing: false,
    durableState: (id: string) => trials.get(id)?.state,
    load: () => Promise.resolve({ sweeps: [], trials: [] }),
    write: (b: Parameters<StateStore['write']>[0]) => {
      if (store.failing) return Promise.reject(new Error('state store unreachable'));
      for (const t of b.trials) trials.set(t.trialId, JSON.parse(JSON.stringify(t)) as { state: string });
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  return store;
}

describe('trial events and durability', () => {
  it('publishes a completion only after the coordinator state holding it is written', async () => {
    const store = flakyStore();
    const events: TrialEvent[] = [];
    const coordinator = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      stateStore: store,
      sinks: {
        probes: () => Promise.resolve(),
        trial: (e) => {
          events.push(e);
          return Promise.resolve();
        },
      },
    });
    void coordinator.run();
    coordinator.scheduler.submit(spec, expandSweep(spec));
    const worker = new WorkerAgent({
      coordinator: coordinator.address,
      engine: await createEngine('wasm'),
      log: silentLogger,
      workerId: 'w1',
      prefetch: 0,
    });
    const running = worker.run();
    const trial = () => [...coordinator.scheduler.registry.list()[0]!.trials.values()][0]!;
    while (trial().epoch < 5) await sleep(10);
    store.failing = true;
    while (trial().state !== 'completed') await sleep(10);
    await sleep(500);
    // Completed in memory only: a crash now would forget it, so nobody may have heard of it.
    expect(store.durableState(trial().trialId)).toBe('leased');
    expect(events.filter((e) => e.status === 'completed')).toEqual([]);

    store.failing = false;
    const deadline = Date.now() + 15_000;
    while (!events.some((e) => e.status === 'completed') && Date.now() < deadline) await sleep(50);
    expect(store.durableState(trial().trialId)).toBe('completed');
    expect(events.map((e) => `${e.status}#${e.attempt}`)).toEqual(['leased#1', 'completed#1']);
    await worker.shutdown();
    await running;
    await coordinator.shutdown(1000);
  });
});
