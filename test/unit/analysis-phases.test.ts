// Segmentation and threshold events against shared/fixtures/phases.json (ruptures, numpy).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { segment } from '../../analysis/segmentation.js';
import { DEFAULT_EVENTS, detectEvent, steepestDeclineEvent, thresholdEvent } from '../../analysis/events.js';

interface Case {
  rel_drift: number[];
  expected: {
    dynp3_breakpoints: number[];
    dynp3_cost: number;
    pelt_penalty: number;
    pelt_breakpoints: number[];
    stabilization: { epoch: number; observed: boolean };
  };
}
const fx = JSON.parse(
  readFileSync(new URL('../../../shared/fixtures/phases.json', import.meta.url), 'utf8'),
) as {
  cases: Case[];
};

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const series = (values: number[], firstEpoch = 0) => ({ firstEpoch, values: Float64Array.from(values) });

describe('fixture phases.json', () => {
  fx.cases.forEach((c, i) => {
    it(`case ${i}: Dynp, PELT, stabilization`, () => {
      const seg = segment(Float64Array.from(c.rel_drift, Math.log));
      expect(seg).not.toBeNull();
      expect(seg!.dynp3).toEqual(c.expected.dynp3_breakpoints);
      expect(rel(seg!.dynp3Cost, c.expected.dynp3_cost)).toBeLessThanOrEqual(1e-9);
      expect(rel(seg!.penalty, c.expected.pelt_penalty)).toBeLessThanOrEqual(1e-9);
      expect(seg!.pelt).toEqual(c.expected.pelt_breakpoints);
      const stab = detectEvent(DEFAULT_EVENTS[0]!, (name) =>
        name === 'rel_drift' ? series(c.rel_drift) : undefined,
      );
      expect(stab).toEqual(c.expected.stabilization);
    });
  });
});

describe('segmentation against a brute-force optimum', () => {
  it('finds the exact 3-segment optimum and ruptures’ earliest tie', () => {
    const x = Float64Array.from(
      { length: 40 },
      (_, i) => (i < 12 ? 0 : i < 27 ? 3 : 1) + Math.sin(i * 1.7) * 0.3,
    );
    const seg = segment(x)!;
    const sse = (a: number, b: number) => {
      const m = x.slice(a, b).reduce((s, v) => s + v, 0) / (b - a);
      return x.slice(a, b).reduce((s, v) => s + (v - m) ** 2, 0);
    };
    let best = Infinity;
    let arg: number[] = [];
    for (let b2 = 10; b2 <= 35; b2++)
      for (let b1 = 5; b1 <= b2 - 5; b1++) {
        const v = sse(0, b1) + sse(b1, b2) + sse(b2, 40);
        if (v < best - 1e-12) [best, arg] = [v, [b1, b2, 40]];
      }
    expect(seg.dynp3).toEqual(arg);
    expect(seg.dynp3).toEqual([12, 27, 40]);
  });

  it('is null on short or non-finite series', () => {
    expect(segment(new Float64Array(14))).toBeNull();
    expect(segment(Float64Array.from({ length: 20 }, (_, i) => (i === 3 ? -Infinity : i)))).toBeNull();
  });

  it('a constant series has a single PELT segment', () => {
    expect(segment(new Float64Array(30).fill(2))!.pelt).toEqual([30]);
  });
});

/** Two-pass L2 cost, as ruptures' CostL2 (numpy var × n). */
function sse(x: Float64Array, a: number, b: number): number {
  let m = 0;
  for (let i = a; i < b; i++) m += x[i]!;
  m /= b - a;
  let s = 0;
  for (let i = a; i < b; i++) s += (x[i]! - m) ** 2;
  return s;
}

/** A literal port of ruptures' Dynp.seg for 2 breakpoints, min_size 5, jump 1. */
function ruptDynp(x: Float64Array): number[] {
  const n = x.length;
  let best = Infinity;
  let out: number[] = [];
  for (let b2 = 10; b2 <= n - 5; b2++) {
    let inner = Infinity;
    let b1Best = -1;
    for (let b1 = 5; b1 <= b2 - 5; b1++) {
      const v = sse(x, 0, b1) + sse(x, b1, b2);
      if (v < inner) [inner, b1Best] = [v, b1];
    }
    const total = inner + sse(x, b2, n);
    if (total < best) [best, out] = [total, [b1Best, b2, n]];
  }
  return out;
}

/** A literal port of ruptures' Pelt._seg (jump 1), KeyError skips and the zip truncation included. */
function ruptPelt(x: Float64Array, pen: number): number[] {
  const n = x.length;
  const parts = new Map<number, { f: number; ends: number[] }>([[0, { f: 0, ends: [] }]]);
  let admissible: number[] = [];
  const ind = [...Array(n).keys()].filter((k) => k >= 5).concat([n]);
  for (const bkp of ind) {
    admissible.push(bkp - 5);
    const subs: { f: number; ends: number[] }[] = [];
    for (const t of admissible) {
      const left = parts.get(t);
      if (!left) continue;
      subs.push({ f: left.f + (sse(x, t, bkp) + pen), ends: [...left.ends, bkp] });
    }
    const best = subs.reduce((a, b) => (b.f < a.f ? b : a));
    parts.set(bkp, best);
    const kept: number[] = [];
    for (let i = 0; i < Math.min(admissible.length, subs.length); i++) {
      if (subs[i]!.f <= best.f + pen) kept.push(admissible[i]!);
    }
    admissible = kept;
  }
  return parts.get(n)!.ends;
}

describe('against literal ports of ruptures on random series', () => {
  it('Dynp (with its pruning) and PELT agree on 150 series', () => {
    let state = 12345;
    const rnd = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let k = 0; k < 150; k++) {
      const n = 15 + Math.floor(rnd() * 90);
      const cuts = [Math.floor(rnd() * n), Math.floor(rnd() * n)].sort((a, b) => a - b);
      // Half the series are rounded to one decimal so equal values and near-ties occur.
      const round = k % 2 === 0;
      const x = Float64Array.from({ length: n }, (_, i) => {
        const v = (i < cuts[0]! ? 0 : i < cuts[1]! ? 2 : 1) + rnd() - 0.5 + 0.3 * Math.sin(i / 3);
        return round ? Math.round(v * 10) / 10 : v;
      });
      const seg = segment(x)!;
      expect(seg.dynp3, `series ${k}`).toEqual(ruptDynp(x));
      expect(seg.pelt, `series ${k}`).toEqual(ruptPelt(x, seg.penalty));
    }
  });

  // With three exactly constant segments σ̂² = 0, the PELT penalty is 0 and every finer split
  // ties at cost 0: which one wins then rests on rounding noise (prefix sums here, two-pass
  // variance in numpy), so only Dynp is compared on those, PELT where the penalty is positive.
  it('noise-free steps, where exact ties are possible', () => {
    const steps = [
      [...Array<number>(20).fill(0), ...Array<number>(20).fill(1), ...Array<number>(20).fill(0)],
      [...Array<number>(7).fill(3), ...Array<number>(30).fill(-1), ...Array<number>(9).fill(2)],
      Array.from({ length: 40 }, (_, i) => Math.floor(i / 4)),
    ];
    for (const s of steps) {
      const x = Float64Array.from(s);
      const seg = segment(x)!;
      expect(seg.dynp3).toEqual(ruptDynp(x));
      if (seg.penalty > 0) expect(seg.pelt).toEqual(ruptPelt(x, seg.penalty));
    }
  });
});

describe('threshold events', () => {
  const above = { kind: 'threshold', probe: 'p', op: '>=', value: 0.9 } as const;

  it('needs the whole window to hold, from the first epoch of the window', () => {
    const s = series([0, 0.95, 0.95, 0.5, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96], 10);
    expect(thresholdEvent(s, above, 5)).toEqual({ epoch: 14, observed: true });
  });

  it('censors at last − w + 1 when it never holds', () => {
    const s = series([0, 0.95, 0.95, 0.95, 0.95, 0.5, 0.95], 0);
    expect(thresholdEvent(s, above, 5)).toEqual({ epoch: 2, observed: false });
  });

  it('treats a missing value as not holding', () => {
    const s = series([0.95, 0.95, NaN, 0.95, 0.95, 0.95, 0.95, 0.95]);
    expect(thresholdEvent(s, above, 5)).toEqual({ epoch: 3, observed: true });
  });

  it('skips an event whose probes are all missing, and falls back to the next criterion', () => {
    const align = DEFAULT_EVENTS[1]!;
    expect(detectEvent(align, () => undefined)).toBeNull();
    expect(detectEvent(align, (n) => (n === 'cluster_purity' ? series([NaN, NaN]) : undefined))).toBeNull();
    const effRank = [10, 10, 10, 10, 10, 9.8, 9, 7, 5, 4, 3.8, 3.7, 3.7, 3.7, 3.7, 3.7];
    const got = detectEvent(align, (n) => (n === 'eff_rank' ? series(effRank) : undefined));
    expect(got).toEqual(
      steepestDeclineEvent(series(effRank), { kind: 'steepest_decline', probe: 'eff_rank', smooth: 5 }, 5),
    );
    expect(got).toEqual({ epoch: 7, observed: true });
  });
});
