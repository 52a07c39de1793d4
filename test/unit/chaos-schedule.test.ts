// The fault run's schedule and checks arithmetic: the seed alone decides the schedule, faults
// stay inside the run, never hit one target twice at once, cover every kind early, and a
// 10-minute run gets well over 100 of them; lost/extra rows and series differences are counted.
import { describe, expect, it } from 'vitest';
import { ChaosRng } from '../../chaos/rng.js';
import {
  countByKind,
  createSchedule,
  describeFault,
  FAULT_KINDS,
  MAX_FAULT_MS,
  type Fault,
  type ScheduleOptions,
} from '../../chaos/schedule.js';
import { createWave } from '../../chaos/sweeps.js';
import {
  compareSeries,
  completionProblems,
  epochRanges,
  metricValue,
  tallyRows,
  type StoredRow,
} from '../../chaos/verdict.js';

const base: ScheduleOptions = {
  seed: 7,
  durationMs: 600_000,
  workers: 3,
  ingesters: 2,
  kinds: FAULT_KINDS,
  partitionTarget: 'worker-0',
};

const HOLD: Record<string, [number, number]> = {
  worker_kill: [0, 2000],
  worker_pause: [300, 6000],
  coordinator_kill: [0, 3000],
  ingester_kill: [0, 3000],
  nats_restart: [0, 3000],
  clickhouse_restart: [0, 4000],
  embedded_interrupt: [0, 2000],
  partition: [500, 8000],
};

describe('chaos RNG', () => {
  it('is a pure function of its seed, and different seeds give different streams', () => {
    const a = new ChaosRng(42);
    const b = new ChaosRng(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const c = new ChaosRng(43);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xs);
  });

  it('draws integers in range, both ends reachable, and weighted picks by weight', () => {
    const r = new ChaosRng(1);
    const ints = Array.from({ length: 2000 }, () => r.int(3, 6));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5, 6]));
    const picks = Array.from({ length: 4000 }, () =>
      r.weighted([
        ['a', 3],
        ['b', 1],
        ['never', 0],
      ] as const),
    );
    const a = picks.filter((p) => p === 'a').length;
    expect(picks).not.toContain('never');
    expect(a / picks.length).toBeGreaterThan(0.7);
    expect(a / picks.length).toBeLessThan(0.8);
  });
});

describe('fault schedule', () => {
  it('is the same for the same options and differs for another seed', () => {
    expect(createSchedule(base)).toEqual(createSchedule({ ...base }));
    expect(createSchedule({ ...base, seed: 8 })).not.toEqual(createSchedule(base));
  });

  it('keeps every fault inside the run, in start order, with holds in their ranges', () => {
    for (const seed of [0, 1, 2, 99, 123456789]) {
      const s = createSchedule({ ...base, seed, durationMs: 60_000 });
      expect(s.length).toBeGreaterThan(8);
      s.forEach((f, i) => {
        expect(f.index).toBe(i);
        expect(f.atMs).toBeGreaterThan(2000);
        expect(f.atMs).toBeLessThan(60_000);
        const [min, max] = HOLD[f.kind]!;
        expect(f.holdMs).toBeGreaterThanOrEqual(min);
        expect(f.holdMs).toBeLessThanOrEqual(max);
        expect(f.holdMs).toBeLessThanOrEqual(MAX_FAULT_MS);
        expect(f.link !== undefined).toBe(f.kind === 'partition');
      });
      for (let i = 1; i < s.length; i++) expect(s[i]!.atMs).toBeGreaterThan(s[i - 1]!.atMs);
    }
  });

  it('hits each kind once first, so a one-minute run exercises all of them', () => {
    for (const seed of [3, 4, 5]) {
      const s = createSchedule({ ...base, seed, durationMs: 60_000 });
      expect(new Set(s.slice(0, FAULT_KINDS.length).map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    }
  });

  it('never has two faults on one target at once', () => {
    const s = createSchedule(base);
    const byTarget = new Map<string, Fault[]>();
    for (const f of s) byTarget.set(f.target, [...(byTarget.get(f.target) ?? []), f]);
    for (const faults of byTarget.values()) {
      for (let i = 1; i < faults.length; i++) {
        const prev = faults[i - 1]!;
        expect(faults[i]!.atMs).toBeGreaterThanOrEqual(prev.atMs + prev.holdMs);
      }
    }
  });

  it('gets over 100 faults into 10 minutes, spread over every kind and target', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const s = createSchedule({ ...base, seed });
      expect(s.length).toBeGreaterThanOrEqual(100);
      const counts = countByKind(s, FAULT_KINDS);
      for (const k of FAULT_KINDS) expect(counts[k], k).toBeGreaterThan(0);
      const workers = new Set(s.filter((f) => f.kind === 'worker_kill').map((f) => f.target));
      expect(workers).toEqual(new Set(['worker-0', 'worker-1', 'worker-2']));
    }
  });

  it('leaves out kinds that cannot run, and partitions hit only the namespaced worker', () => {
    const noNetns = createSchedule({
      ...base,
      kinds: FAULT_KINDS.filter((k) => k !== 'partition'),
      partitionTarget: undefined,
    });
    expect(noNetns.some((f) => f.kind === 'partition')).toBe(false);
    expect(createSchedule({ ...base, partitionTarget: undefined }).some((f) => f.kind === 'partition')).toBe(
      false,
    );
    const s = createSchedule(base);
    expect(new Set(s.filter((f) => f.kind === 'partition').map((f) => f.target))).toEqual(
      new Set(['worker-0']),
    );
    expect(createSchedule({ ...base, kinds: [] })).toEqual([]);
  });

  it('describes each fault in one replayable line', () => {
    const [f] = createSchedule({ ...base, kinds: ['partition'] });
    expect(describeFault(f!)).toMatch(
      /^#0 t=\d+\.\ds partition worker-0 hold=\d+ms link=(coordinator|nats|both)$/,
    );
  });
});

describe('chaos waves', () => {
  it('derive their sweep seeds from the run seed and have a few hundred tiny trials', () => {
    const w = createWave(5, 'cluster', 0);
    expect(w.trials.length).toBe(240);
    expect(createWave(5, 'cluster', 0).yaml).toBe(w.yaml);
    expect(createWave(6, 'cluster', 0).yaml).not.toBe(w.yaml);
    expect(createWave(5, 'cluster', 1).name).toBe('cluster-1');
    expect(new Set(w.trials.map((t) => t.config.train.epochs))).toEqual(new Set([20, 40, 60]));
    expect(createWave(5, 'embedded', 0).trials.length).toBeLessThan(w.trials.length);
  });
});

describe('chaos checks', () => {
  const row = (trialId: string, epoch: number, attempt = 1, loss: number | null = epoch): StoredRow => ({
    trialId,
    epoch,
    attempt,
    probes: { loss },
  });

  it('counts missing (trial, epoch) pairs as lost and every extra row as duplicated', () => {
    const expected = new Map([
      ['a', 3],
      ['b', 2],
    ]);
    const t = tallyRows(expected, [
      row('a', 0),
      row('a', 2),
      row('a', 2, 2),
      row('a', 3),
      row('c', 0),
      row('b', 1),
    ]);
    expect(t.lost).toBe(2);
    expect(t.lostEpochs).toEqual(
      new Map([
        ['a', [1]],
        ['b', [0]],
      ]),
    );
    expect(t.duplicated).toBe(3);
    expect(
      tallyRows(expected, [row('a', 0), row('a', 1), row('a', 2), row('b', 0), row('b', 1)]),
    ).toMatchObject({
      lost: 0,
      duplicated: 0,
    });
    expect(epochRanges([0, 1, 2, 5, 7, 8])).toBe('0–2, 5, 7–8');
  });

  it('finds the first probe value that differs from the reference, bit for bit', () => {
    const ref = [
      { loss: 1, val_acc: 0.5 },
      { loss: 0.5, val_acc: null },
    ];
    expect(compareSeries(ref, [row('a', 1, 2, 0.5), row('a', 0, 1, 1)])).toMatchObject({
      epoch: 0,
      probe: 'val_acc',
    });
    const same = [
      { trialId: 'a', epoch: 0, attempt: 1, probes: { loss: 1, val_acc: 0.5 } },
      { trialId: 'a', epoch: 1, attempt: 2, probes: { loss: 0.5, val_acc: Number.NaN } },
    ];
    expect(compareSeries(ref, same)).toBeUndefined();
    const off = [{ ...same[0]!, probes: { loss: 1 + Number.EPSILON, val_acc: 0.5 } }];
    expect(compareSeries(ref, off)).toMatchObject({
      epoch: 0,
      probe: 'loss',
      got: 1 + Number.EPSILON,
      want: 1,
    });
    expect(compareSeries(ref, [row('a', 2)])).toMatchObject({ epoch: 2, probe: '(row)' });
  });

  it('wants every planned trial finished, in the coordinator, the store and by exactly one attempt', () => {
    const done = (id: string, attempt = 1) => ({ trialId: id, state: 'completed', attempt });
    const stored = (id: string) => ({ trialId: id, status: 'completed' });
    expect(
      completionProblems(
        's',
        ['a', 'b'],
        [done('a'), done('b', 3)],
        [stored('a'), stored('b')],
        new Map([
          ['a', new Set([1])],
          ['b', new Set([3])],
        ]),
      ),
    ).toEqual([]);
    const problems = completionProblems(
      's',
      ['a', 'b'],
      [done('a'), { trialId: 'b', state: 'leased', attempt: 2 }],
      [stored('a'), { trialId: 'b', status: 'retrying' }, stored('x')],
      new Map([['a', new Set([1, 2])]]),
    );
    expect(
      completionProblems('s', ['a'], [done('a', 2)], [stored('a')], new Map([['a', new Set([1])]])),
    ).toEqual(['s/a: finished by attempt 1 in the status events, 2 in the coordinator']);
    expect(problems).toEqual([
      's/a: finished by 2 attempts (1, 2) in the status events',
      's/b: coordinator says leased',
      's/b: store says retrying',
      's/b: finished by 0 attempts (none) in the status events',
      's/x: store has a trial nobody planned',
    ]);
  });

  it('reads one series of a Prometheus text by its labels', () => {
    const text = [
      '# HELP phasesweep_sweep_trials Trials of each sweep by state',
      'phasesweep_sweep_trials{sweep="cluster-0",state="completed"} 240',
      'phasesweep_sweep_trials{sweep="cluster-1",state="completed"} 12',
      'phasesweep_sweep_epochs_done{sweep="cluster-0"} 9600',
    ].join('\n');
    expect(metricValue(text, 'phasesweep_sweep_trials', { sweep: 'cluster-1', state: 'completed' })).toBe(12);
    expect(metricValue(text, 'phasesweep_sweep_epochs_done', { sweep: 'cluster-0' })).toBe(9600);
    expect(metricValue(text, 'phasesweep_sweep_epochs_done', { sweep: 'nope' })).toBeUndefined();
  });
});
