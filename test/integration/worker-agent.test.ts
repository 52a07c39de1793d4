// Coordinator and worker agent over a real gRPC socket, in one process: leases, probe events
// over the stream, results, and a graceful shutdown that hands the running trial back.
import { describe, expect, it } from 'vitest';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import type { ProbeEvent, TrialEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, DirCheckpointStore, WorkerAgent } from '../../worker/index.js';

const spec = (epochs: number) =>
  parseSweepYaml(`
name: agent
seeds: 3
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: ${epochs} }
  probes: { probe_set: 8 }
`);

async function harness(epochs: number) {
  const events: ProbeEvent[] = [];
  const trialEvents: TrialEvent[] = [];
  const coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    log: silentLogger,
    sinks: {
      probes: (e) => {
        events.push(...e);
        return Promise.resolve();
      },
      trial: (e) => {
        trialEvents.push(e);
        return Promise.resolve();
      },
    },
  });
  void coordinator.run();
  const s = spec(epochs);
  coordinator.scheduler.submit(s, expandSweep(s));
  const engine = await createEngine('wasm');
  const agent = new WorkerAgent({
    coordinator: coordinator.address,
    engine,
    log: silentLogger,
    workerId: 'w1',
  });
  return { coordinator, agent, events, trialEvents };
}

describe('worker agent', () => {
  it('trains every leased trial and streams one event per epoch', async () => {
    const { coordinator, agent, events, trialEvents } = await harness(4);
    const running = agent.run();
    while (!coordinator.scheduler.registry.isDone('agent')) await new Promise((r) => setTimeout(r, 50));
    await agent.shutdown();
    await running;
    await coordinator.shutdown(1000);
    expect(events).toHaveLength(12);
    expect(new Set(events.map((e) => `${e.trial_id}:${e.epoch}`)).size).toBe(12);
    expect(events.every((e) => e.engine === 'wasm' && e.attempt === 1 && e.worker_id === 'w1')).toBe(true);
    expect(trialEvents.filter((e) => e.status === 'completed')).toHaveLength(3);
    expect(trialEvents.find((e) => e.status === 'completed')?.metadata?.backend).toBe('wasm');
  });

  it('hands the running trial back on shutdown so it is pending again, not failed', async () => {
    const { coordinator, agent, events } = await harness(400);
    const running = agent.run();
    while (events.length < 2) await new Promise((r) => setTimeout(r, 20));
    await agent.shutdown();
    await running;
    const counts = coordinator.scheduler.registry.countByState('agent');
    await coordinator.shutdown(1000);
    expect(counts).toMatchObject({ pending: 3, leased: 0, failed: 0 });
  });

  it('checkpoints on shutdown, and the next worker resumes right after that epoch', async () => {
    const { coordinator, agent, events } = await harness(400);
    const checkpoints = new DirCheckpointStore(mkdtempSync(join(tmpdir(), 'phasesweep-ckpt-')));
    const first = new WorkerAgent({
      coordinator: coordinator.address,
      engine: await createEngine('wasm'),
      log: silentLogger,
      workerId: 'w2',
      checkpoints,
      checkpointEvery: 1000, // never periodically: only the hand-over checkpoint exists
      prefetch: 0,
    });
    void agent.shutdown(); // the harness's own agent never runs here
    const running = first.run();
    while (events.length < 5) await new Promise((r) => setTimeout(r, 20));
    await first.shutdown();
    await running;
    const handedOver = coordinator.scheduler.registry.list()[0]!;
    const trial = [...handedOver.trials.values()].find((t) => t.checkpointRef !== '')!;
    expect(trial.state).toBe('pending');
    const lastEpoch = Math.max(...events.filter((e) => e.trial_id === trial.trialId).map((e) => e.epoch));
    expect(trial.checkpointRef).toContain(`-e${lastEpoch}.ckpt`);

    const second = new WorkerAgent({
      coordinator: coordinator.address,
      engine: await createEngine('wasm'),
      log: silentLogger,
      workerId: 'w3',
      checkpoints,
      prefetch: 0,
    });
    const running2 = second.run();
    while (!events.some((e) => e.trial_id === trial.trialId && e.attempt === 2))
      await new Promise((r) => setTimeout(r, 20));
    await second.shutdown();
    await running2;
    await coordinator.shutdown(1000);
    const resumed = events.filter((e) => e.trial_id === trial.trialId && e.attempt === 2);
    expect(resumed[0]!.epoch).toBe(lastEpoch + 1);
  });
});
