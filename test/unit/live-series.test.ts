// The live page's data: bounded, thinned probe series per trial, retries rewriting a curve,
// and the per-level median/IQR the page draws.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { levelCurve, liveSnapshot, ProbeSeriesStore, quantileSorted } from '../../coordinator/live/index.js';
import { Scheduler } from '../../coordinator/scheduler.js';
import type { ProbeEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

function ev(trial: string, epoch: number, loss: number, attempt = 1, sweep = 's'): ProbeEvent {
  return {
    sweep_id: sweep,
    trial_id: trial,
    attempt,
    epoch,
    seed: 1,
    time_ms: 0,
    engine: 'cpu',
    backend: 'cpu',
    worker_id: 'w',
    scalars: {},
    loss,
  };
}

describe('ProbeSeriesStore', () => {
  it('keeps at most maxPoints per trial by doubling the stride, evenly spaced', () => {
    const store = new ProbeSeriesStore({ maxPoints: 8, probes: ['loss'] });
    for (let e = 0; e < 100; e++) store.add([ev('a', e, e)]);
    const [t] = store.forSweep('s');
    expect(t!.epochs.length).toBeLessThanOrEqual(8);
    expect(t!.stride).toBe(16);
    expect(t!.epochs).toEqual([0, 16, 32, 48, 64, 80, 96]);
    expect(t!.values.get('loss')).toEqual([0, 16, 32, 48, 64, 80, 96]);
  });

  it('a new attempt rewrites the curve from its first epoch; a stale attempt is ignored', () => {
    const store = new ProbeSeriesStore({ probes: ['loss'] });
    for (let e = 0; e < 5; e++) store.add([ev('a', e, 1)]);
    store.add([ev('a', 3, 2, 2), ev('a', 4, 2, 2), ev('a', 5, 9, 1)]);
    const [t] = store.forSweep('s');
    expect(t!.epochs).toEqual([0, 1, 2, 3, 4]);
    expect(t!.values.get('loss')).toEqual([1, 1, 1, 2, 2]);
    expect(t!.attempt).toBe(2);
  });

  it('drops the oldest trial beyond maxTrials, and non-finite values become gaps', () => {
    const store = new ProbeSeriesStore({ maxTrials: 2, probes: ['loss'] });
    store.add([ev('a', 0, 1), ev('b', 0, Number.NaN), ev('c', 0, 3)]);
    expect(store.size).toBe(2);
    expect(store.forSweep('s').map((t) => [t.trialId, t.values.get('loss')])).toEqual([
      ['b', [null]],
      ['c', [3]],
    ]);
  });
});

function withScalars(e: ProbeEvent, scalars: Record<string, number>): ProbeEvent {
  return { ...e, scalars };
}

describe('user scalars in the live series', () => {
  it('keeps each trial’s scalars aligned with its epochs, null where not reported, never a probe', () => {
    const store = new ProbeSeriesStore({ probes: ['loss'], maxPoints: 4 });
    store.add([ev('a', 0, 1), withScalars(ev('a', 1, 1), { perplexity: 5, loss: 99, cka_prev: 3 })]);
    store.add([ev('a', 2, 1), withScalars(ev('a', 3, 1), { perplexity: 3, attn: Number.NaN })]);
    store.add([
      withScalars(ev('b', 0, 1), { zeta: 1 }),
      withScalars(ev('c', 0, 1, 1, 'other'), { other: 1 }),
    ]);
    const [a] = store.forSweep('s');
    expect(a!.values.get('loss')).toEqual([1, 1, 1, 1]);
    expect(a!.values.get('perplexity')).toEqual([null, 5, null, 3]);
    expect(a!.values.get('attn')).toEqual([null, null, null, null]);
    expect(a!.values.has('cka_prev')).toBe(false);
    expect(store.scalarNames('s')).toEqual(['attn', 'perplexity', 'zeta']);
    // Thinning and a retried attempt treat scalars like probes.
    store.add([withScalars(ev('a', 4, 2), { perplexity: 2 })]);
    expect(a!.epochs).toEqual([0, 2, 4]);
    expect(a!.values.get('perplexity')).toEqual([null, null, 2]);
    store.add([withScalars(ev('a', 3, 3), { perplexity: 9 })]);
    expect(a!.epochs).toEqual([0, 2]);
    expect(a!.values.get('perplexity')).toEqual([null, null]);
  });

  it('keeps at most maxScalars names per trial', () => {
    const store = new ProbeSeriesStore({ probes: ['loss'], maxScalars: 2 });
    store.add([
      withScalars(ev('a', 0, 1), { s1: 1, s2: 2, s3: 3 }),
      withScalars(ev('a', 1, 1), { s4: 4, s1: 5 }),
    ]);
    expect([...store.forSweep('s')[0]!.values.keys()]).toEqual(['loss', 's1', 's2']);
    expect(store.forSweep('s')[0]!.values.get('s1')).toEqual([1, 5]);
  });

  it('the snapshot lists the sweep’s user scalars and draws the one asked for', () => {
    const scheduler = new Scheduler({ clock: new ManualClock(), leaseTtlMs: 1000 });
    const spec = parseSweepYaml('name: live\nseeds: 2\naxes: { weight_decay: [0, 1] }');
    scheduler.submit(spec, expandSweep(spec));
    const trials = [...scheduler.registry.list()[0]!.trials.values()];
    const store = new ProbeSeriesStore();
    for (const [k, t] of trials.entries())
      for (let epoch = 0; epoch < 3; epoch++)
        store.add([withScalars(ev(t.trialId, epoch, 1, 1, 'live'), { perplexity: 10 * k + epoch })]);
    const plain = liveSnapshot(scheduler, store, {});
    expect(plain.scalars).toEqual(['perplexity']);
    expect(plain.probe).toBe('loss');
    const snap = liveSnapshot(scheduler, store, { probe: 'perplexity', axis: 'weight_decay' });
    expect(snap.probe).toBe('perplexity');
    expect(snap.levels.map((l) => l.level)).toEqual(['0', '1']);
    const byLevel = (level: string) =>
      trials.flatMap((t, k) => (JSON.stringify(t.axes['weight_decay']) === level ? [k] : []));
    for (const l of snap.levels) {
      const ks = byLevel(l.level);
      expect(l.curve.map((p) => [p[0], p[2], p[4]])).toEqual(
        [0, 1, 2].map((epoch) => [epoch, (10 * ks[0]! + 10 * ks[1]!) / 2 + epoch, 2]),
      );
    }
    // Not a name this sweep reported: back to the first probe.
    expect(liveSnapshot(scheduler, store, { probe: 'nope' }).probe).toBe('loss');
  });
});

describe('levelCurve', () => {
  it('gives median and IQR across trials per epoch, on the epochs every trial keeps', () => {
    const store = new ProbeSeriesStore({ maxPoints: 4, probes: ['loss'] });
    for (let e = 0; e < 4; e++) store.add([ev('a', e, 1 + e), ev('b', e, 3 + e), ev('c', e, 5 + e)]);
    for (let e = 4; e < 8; e++) store.add([ev('a', e, 1 + e)]); // a thins to stride 2
    const curve = levelCurve(store.forSweep('s'), 'loss');
    expect(curve.map((p) => p[0])).toEqual([0, 2, 4, 6]);
    expect(curve[0]).toEqual([0, 2, 3, 4, 3]);
    expect(curve[3]).toEqual([6, 7, 7, 7, 1]);
  });

  it('interpolates quantiles linearly, as ClickHouse does', () => {
    expect(quantileSorted([3, 4, 5, 6, 7, 8, 9], 0.25)).toBe(4.5);
    expect(quantileSorted([1, 2], 0.75)).toBe(1.75);
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});
