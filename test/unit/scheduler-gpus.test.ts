// The scheduler's GPU rules on a manual clock: a trial asking for resources.gpu = k goes only to
// a worker with k free GPU slots and its lease names the devices; they come free however the
// lease ends; CPU trials go anywhere (CPU workers first) and never wait behind GPU trials.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { gpuNeedOf } from '../../coordinator/gpu-slots.js';
import { Scheduler, type WorkerSession } from '../../coordinator/scheduler.js';
import {
  TrialOutcome,
  TrialResult,
  type CoordinatorMessage,
  type Device,
  type Lease,
  type ProbeEvent,
} from '../../proto/index.js';
import { expandSweep, parseSweepYaml, type PlannedTrial } from '../../spec/index.js';

function scheduler(clock = new ManualClock(), tokenPrefix = 'tok') {
  let n = 0;
  return new Scheduler({ clock, leaseTtlMs: 1000, maxFailures: 5, newToken: () => `${tokenPrefix}${n++}` });
}

/** A sweep whose trials each ask for `gpu` GPUs. */
function submit(s: Scheduler, name: string, seeds: number, gpu: number, priority = 0) {
  const spec = parseSweepYaml(
    `name: ${name}\nseeds: ${seeds}\npriority: ${priority}\nbase: { train: { epochs: 4 } }`,
  );
  const planned: PlannedTrial[] = expandSweep(spec).map((p) => ({
    ...p,
    config: { ...p.config, resources: { gpu } },
  }));
  s.submit(spec, planned);
}

type Session = WorkerSession & { inbox: CoordinatorMessage[]; leases: () => Lease[] };

function session(
  id: string,
  devices: Device[] = [],
  trialsPerGpu = 1,
  eventsViaCoordinator = false,
): Session {
  const inbox: CoordinatorMessage[] = [];
  return {
    workerId: id,
    wanted: 0,
    inbox,
    devices,
    trialsPerGpu,
    eventsViaCoordinator,
    send: (m) => inbox.push(m),
    leases: () => inbox.flatMap((m) => (m.lease ? [m.lease] : [])),
  };
}

const cuda = (n: number): Device[] =>
  Array.from({ length: n }, (_, index) => ({ kind: 'cuda', index, name: 'H100', memory_bytes: 85e9 }));

function result(s: Scheduler, worker: string, l: Lease, outcome = TrialOutcome.TRIAL_OUTCOME_COMPLETED) {
  return s.result(
    worker,
    TrialResult.fromPartial({ trial_id: l.trial!.trial_id, token: l.token, outcome, epochs: 4, reason: '' }),
  );
}

const use = (s: Scheduler, worker: string) => Object.fromEntries(s.gpusInUse(worker) ?? []);

describe('scheduler: GPU trials', () => {
  it('leases a GPU trial only to a worker with a free GPU, names the device, and frees it on the result', () => {
    const s = scheduler();
    submit(s, 'g', 2, 1);
    const cpu = session('cpu');
    const web = session('web', [{ kind: 'webgpu', index: 0, name: 'adapter', memory_bytes: 0 }]);
    const gpu = session('gpu', cuda(1));
    for (const w of [cpu, web, gpu]) s.attach(w);
    s.request('cpu', 2);
    s.request('web', 2); // a WebGPU adapter is no CUDA device
    expect(cpu.inbox).toEqual([]);
    expect(web.inbox).toEqual([]);
    s.request('gpu', 2);
    expect(gpu.leases().map((l) => l.devices)).toEqual([['cuda:0']]);
    expect(gpu.wanted).toBe(1); // the second trial waits for the GPU
    expect(use(s, 'gpu')).toEqual({ 'cuda:0': 1 });
    expect(result(s, 'gpu', gpu.leases()[0]!)).toBe(true);
    expect(gpu.leases().map((l) => l.devices)).toEqual([['cuda:0'], ['cuda:0']]);
    expect(gpu.leases()[1]!.trial!.trial_id).not.toBe(gpu.leases()[0]!.trial!.trial_id);
    expect(s.registry.countByState('g')).toMatchObject({ completed: 1, leased: 1, pending: 0 });
  });

  it('spreads trials over the GPUs, least busy first, and shares one only up to trials_per_gpu', () => {
    const s = scheduler();
    submit(s, 'g', 5, 1);
    const w = session('w', cuda(2), 2);
    s.attach(w);
    s.request('w', 5);
    expect(w.leases().map((l) => l.devices)).toEqual([['cuda:0'], ['cuda:1'], ['cuda:0'], ['cuda:1']]);
    expect(use(s, 'w')).toEqual({ 'cuda:0': 2, 'cuda:1': 2 });
    result(s, 'w', w.leases()[1]!);
    expect(w.leases()[4]!.devices).toEqual(['cuda:1']);
  });

  it('gives a trial asking for k GPUs k distinct free ones, and leases a smaller trial past one that does not fit', () => {
    const s = scheduler();
    submit(s, 'big', 2, 2, 5);
    submit(s, 'small', 1, 1);
    const w = session('w', cuda(3));
    s.attach(w);
    s.request('w', 3);
    const leases = w.leases();
    expect(leases.map((l) => [l.trial!.sweep_id, l.devices])).toEqual([
      ['big', ['cuda:0', 'cuda:1']],
      ['small', ['cuda:2']], // the second big trial needs two GPUs; one is free
    ]);
    result(s, 'w', leases[1]!);
    expect(w.leases()).toHaveLength(2); // still only one free
    result(s, 'w', leases[0]!);
    expect(w.leases()[2]!.devices).toEqual(['cuda:0', 'cuda:1']);
  });

  it('frees the GPUs however the lease ends: expiry, release, revocation, hand-back of all leases', () => {
    const clock = new ManualClock();
    const s = scheduler(clock);
    submit(s, 'g', 1, 1);
    const w = session('w', cuda(1), 1, true);
    s.attach(w);
    const next = () => {
      s.request('w', 1);
      return w.leases().at(-1)!;
    };
    // Expiry: the worker missed its heartbeats.
    let l = next();
    expect(use(s, 'w')).toEqual({ 'cuda:0': 1 });
    clock.advance(1001);
    expect(s.expireLeases()).toHaveLength(1);
    expect(use(s, 'w')).toEqual({});
    // Release: handed back unfinished.
    l = next();
    expect(l.attempt).toBe(2);
    result(s, 'w', l, TrialOutcome.TRIAL_OUTCOME_RELEASED);
    expect(use(s, 'w')).toEqual({});
    // Revocation: its streamed events arrived with a gap.
    l = next();
    const event: ProbeEvent = {
      sweep_id: 'g',
      trial_id: l.trial!.trial_id,
      attempt: l.attempt,
      epoch: 2, // epoch 0 was expected
      seed: 0,
      time_ms: 0,
      engine: '',
      backend: '',
      worker_id: 'w',
      scalars: {},
    };
    expect(s.acceptEvents('w', [event])).toEqual([]);
    expect(use(s, 'w')).toEqual({});
    // Every lease handed back at once (a restart whose workers are gone).
    l = next();
    expect(s.releaseAllLeases('restart')).toBe(1);
    expect(use(s, 'w')).toEqual({});
    expect(next().devices).toEqual(['cuda:0']);
  });

  it('after a restart, gives a worker no GPU lease while it holds restored ones whose GPUs are unknown', () => {
    const first = scheduler();
    submit(first, 'g', 2, 1);
    const before = session('w', cuda(2));
    first.attach(before);
    first.request('w', 1);
    const held = before.leases()[0]!;
    const saved = first.registry.takeDirty();

    const second = scheduler(new ManualClock(), 'new');
    second.registry.restore(saved.sweeps, saved.trials);
    expect(second.restoreLeases()).toBe(1);
    const after = session('w', cuda(2));
    second.attach(after);
    second.request('w', 1);
    expect(after.inbox).toEqual([]); // cuda:1 may be free, but cuda:0 might not be: wait
    expect(second.gpusInUse('w')).toBeUndefined();
    expect(result(second, 'w', held)).toBe(true);
    expect(after.leases().map((l) => l.devices)).toEqual([['cuda:0']]);
  });
});

describe('scheduler: CPU trials beside GPU workers', () => {
  it('go to CPU workers first, to GPU workers when no CPU worker waits, and take no GPU', () => {
    const s = scheduler();
    submit(s, 'c', 3, 0);
    const gpu = session('gpu', cuda(1));
    const cpu = session('cpu');
    s.attach(gpu);
    s.attach(cpu);
    gpu.wanted = 1;
    cpu.wanted = 1;
    s.dispatch();
    expect(cpu.leases()).toHaveLength(1);
    expect(gpu.leases()).toHaveLength(1); // the second: only the GPU worker was waiting
    expect(gpu.leases()[0]!.devices).toEqual([]);
    expect(use(s, 'gpu')).toEqual({});
    // With both waiting again, the CPU worker gets the trial.
    cpu.wanted = 1;
    gpu.wanted = 1;
    s.dispatch();
    expect(cpu.leases()).toHaveLength(2);
    expect(gpu.leases()).toHaveLength(1);
  });

  it('do not wait behind a higher-priority GPU trial no worker can take', () => {
    const s = scheduler();
    submit(s, 'gpu-sweep', 2, 1, 10);
    submit(s, 'cpu-sweep', 2, 0);
    const cpu = session('cpu');
    s.attach(cpu);
    s.request('cpu', 2);
    expect(cpu.leases().map((l) => l.trial!.sweep_id)).toEqual(['cpu-sweep', 'cpu-sweep']);
    const gpu = session('gpu', cuda(1));
    s.attach(gpu);
    s.request('gpu', 1);
    expect(gpu.leases().map((l) => [l.trial!.sweep_id, l.devices])).toEqual([['gpu-sweep', ['cuda:0']]]);
  });

  it('a trial asking for more GPUs than any worker has stays pending without blocking others', () => {
    const s = scheduler();
    submit(s, 'huge', 1, 8, 10);
    submit(s, 'one', 1, 1);
    const w = session('w', cuda(2));
    s.attach(w);
    s.request('w', 2);
    expect(w.leases().map((l) => l.trial!.sweep_id)).toEqual(['one']);
    expect(s.registry.countByState('huge')).toMatchObject({ pending: 1 });
  });
});

describe('resources.gpu in a trial config', () => {
  it('is read defensively: a whole number ≥ 1, anything else is none', () => {
    expect(gpuNeedOf('{"resources":{"gpu":2}}')).toBe(2);
    expect(gpuNeedOf('{"resources":{"gpu":0}}')).toBe(0);
    for (const bad of [
      '{}',
      'null',
      'not json',
      '{"resources":null}',
      '{"resources":{"gpu":"2"}}',
      '{"resources":{"gpu":-1}}',
      '{"resources":{"gpu":1.5}}',
    ])
      expect(gpuNeedOf(bad), bad).toBe(0);
  });
});
