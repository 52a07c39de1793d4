// The live page's data: bounded, thinned probe series per trial, retries rewriting a curve,
// and the per-level median/IQR the page draws.
import { describe, expect, it } from 'vitest';
import { levelCurve, ProbeSeriesStore, quantileSorted } from '../../coordinator/live/index.js';
import type { ProbeEvent } from '../../proto/index.js';

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
