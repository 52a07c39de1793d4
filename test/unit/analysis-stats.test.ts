// The timing statistics against shared/fixtures/stats.json (scipy) and extra scipy 1.17 cases.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kruskal } from '../../analysis/stats/kruskal.js';
import { jonckheere } from '../../analysis/stats/jonckheere.js';
import { mannWhitney } from '../../analysis/stats/mann-whitney.js';
import { benjaminiHochberg, holm } from '../../analysis/stats/multiple-testing.js';
import { cliffsDelta, spearman } from '../../analysis/stats/correlation.js';
import { kaplanMeier } from '../../analysis/stats/kaplan-meier.js';
import { logrank } from '../../analysis/stats/logrank.js';
import { normalQuantile } from '../../analysis/stats/distributions.js';
import { bootstrapMedianCi, createMedianSampler, createRng, median } from '../../analysis/stats/bootstrap.js';

interface Fixture {
  levels: number[];
  groups: number[][];
  kruskal: { H: number; p: number };
  jonckheere: { p: number; kendall_tau_b: number };
  spearman: { rho: number; p: number };
  pairwise_mannwhitney: {
    a: number;
    b: number;
    U: number;
    p: number;
    cliffs_delta: number;
    p_holm: number;
  }[];
  bh: number[];
  mannwhitney_exact_case: { x: number[]; y: number[]; U: number; p: number };
  censored_groups: { time: number[]; observed: boolean[] }[];
  kaplan_meier: { times: number[]; survival: number[]; median: number | null }[];
  logrank_two_sample_0_1: { statistic: number; p: number };
  logrank_k_sample: { chi2: number; df: number; p: number };
}

const fx = JSON.parse(
  readFileSync(new URL('../../../shared/fixtures/stats.json', import.meta.url), 'utf8'),
) as Fixture;

function close(actual: number | null | undefined, expected: number, rel = 1e-9): void {
  expect(actual).not.toBeNull();
  expect(actual).toBeDefined();
  const a = actual!;
  if (expected === 0) expect(Math.abs(a)).toBeLessThan(1e-300);
  else expect(Math.abs(a - expected) / Math.abs(expected), `${a} vs ${expected}`).toBeLessThanOrEqual(rel);
}

describe('fixture stats.json', () => {
  it('Kruskal–Wallis', () => {
    const r = kruskal(fx.groups);
    close(r?.H, fx.kruskal.H);
    close(r?.p, fx.kruskal.p);
  });

  it('Jonckheere–Terpstra equals kendalltau-b', () => {
    const r = jonckheere(fx.groups);
    close(r?.p, fx.jonckheere.p);
    close(r?.tau_b, fx.jonckheere.kendall_tau_b);
  });

  it('Spearman', () => {
    const x = fx.groups.flatMap((g, i) => g.map(() => fx.levels[i]!));
    const r = spearman(x, fx.groups.flat());
    close(r?.rho, fx.spearman.rho);
    close(r?.p, fx.spearman.p);
  });

  it('pairwise Mann–Whitney, Cliff’s δ, Holm and BH', () => {
    const ps: number[] = [];
    for (const e of fx.pairwise_mannwhitney) {
      const r = mannWhitney(fx.groups[e.a]!, fx.groups[e.b]!);
      close(r?.U, e.U);
      close(r?.p, e.p);
      close(cliffsDelta(fx.groups[e.a]!, fx.groups[e.b]!), e.cliffs_delta);
      ps.push(r!.p);
    }
    holm(ps).forEach((p, i) => close(p, fx.pairwise_mannwhitney[i]!.p_holm));
    benjaminiHochberg(ps).forEach((p, i) => close(p, fx.bh[i]!));
  });

  it('exact Mann–Whitney', () => {
    const c = fx.mannwhitney_exact_case;
    const r = mannWhitney(c.x, c.y);
    expect(r?.method).toBe('exact');
    close(r?.U, c.U);
    close(r?.p, c.p);
  });

  it('Kaplan–Meier curves and medians', () => {
    fx.censored_groups.forEach((g, i) => {
      const km = kaplanMeier(g.time, g.observed);
      const want = fx.kaplan_meier[i]!;
      expect(km.times).toEqual(want.times);
      km.survival.forEach((s, k) => close(s, want.survival[k]!) /* exact zero handled */);
      expect(km.median).toBe(want.median);
    });
  });

  it('log-rank, two-sample (scipy logrank) and K-sample', () => {
    const [g0, g1] = fx.censored_groups;
    const two = logrank([g0!, g1!]);
    close(two?.z, fx.logrank_two_sample_0_1.statistic);
    close(two?.p, fx.logrank_two_sample_0_1.p);
    close(two?.chi2, fx.logrank_two_sample_0_1.statistic ** 2);
    const k = logrank(fx.censored_groups);
    close(k?.chi2, fx.logrank_k_sample.chi2);
    expect(k?.df).toBe(fx.logrank_k_sample.df);
    close(k?.p, fx.logrank_k_sample.p);
  });
});

// Values from scipy 1.17.1, computed once with the calls named in each case.
describe('scipy cases beyond the fixture', () => {
  it('mannwhitneyu exact with one small sample (4 vs 20)', () => {
    const y = [
      1.847, 10.134, 6.417, 5.785, 9.083, 2.716, 4.171, 4.081, 3.461, 6.337, 0.995, 2.797, 6.569, 4.498,
      3.807, 5.958, 2.376, 7.512, 4.547, 3.946,
    ];
    // Checked against an independent enumeration of all C(24, 4) splits.
    const r = mannWhitney([1.5, 2.25, 3.1, 8.2], y);
    expect(r?.method).toBe('exact');
    close(r?.p, bruteForceTwoSided([1.5, 2.25, 3.1, 8.2], y));
  });

  it('mannwhitneyu with ties uses the asymptotic method', () => {
    const r = mannWhitney([3, 1, 4, 1, 5], [9, 2, 6, 5, 3, 5]);
    expect(r?.method).toBe('asymptotic');
    close(r?.U, 6.5);
    close(r?.p, 0.13862587987892763);
  });

  it('mannwhitneyu 9 vs 10 without ties is asymptotic', () => {
    const r = mannWhitney([0, 1, 2, 3, 4, 5, 6, 7, 8], [3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5]);
    expect(r?.method).toBe('asymptotic');
    close(r?.U, 15);
    close(r?.p, 0.01601099081051716);
  });

  it('kruskal with ties, spearmanr and kendalltau with ties', () => {
    const k = kruskal([
      [1, 2, 2, 3],
      [2, 3, 3, 4],
      [5, 5, 6],
    ]);
    close(k?.H, 7.440758293838867);
    close(k?.p, 0.024224781353062014);
    const x = [0, 0, 0, 1, 1, 1, 2, 2];
    const y = [3, 1, 2, 5, 4, 4, 7, 6];
    const s = spearman(x, y);
    close(s?.rho, 0.9505863757867167);
    close(s?.p, 0.00029056574615129907);
    const j = jonckheere([
      [3, 1, 2],
      [5, 4, 4],
      [7, 6],
    ]);
    close(j?.tau_b, 0.8819171036881968);
    close(j?.p, 0.005110260660855864);
  });

  it('logrank two-sample with censoring', () => {
    const r = logrank([
      { time: [5, 7, 9, 12, 8, 13], observed: [true, true, true, true, false, false] },
      { time: [6, 6, 10, 11, 14, 9, 15], observed: [true, true, true, true, true, false, false] },
    ]);
    close(r?.z, 0.43444505720481935);
    close(r?.p, 0.6639652845085107);
  });

  it('ecdf log-log confidence band (scipy confidence_interval(method="log-log"))', () => {
    const g = fx.censored_groups[0]!;
    const km = kaplanMeier(g.time, g.observed);
    const low = [0.38700001403202516, 0.314807113705519, 0.22933332242913165, 0.22933332242913165];
    const high = [0.981392965878966, 0.9308983170906275, 0.8606982769135387, 0.8606982769135387];
    low.forEach((v, i) => close(km.lower[i + 1], v));
    high.forEach((v, i) => close(km.upper[i + 1], v));
    close(km.lower[7], 0.007880728123512627);
    close(km.upper[7], 0.4909266038527372);
    // Median 44; the band's lower limit first reaches 0.5 at 26, its upper limit at 59.
    expect(km.medianCi).toEqual([26, 59]);
  });

  it('normal quantile', () => {
    close(normalQuantile(0.975), 1.959963984540054);
    close(normalQuantile(0.001), -3.090232306167813);
  });
});

describe('edge cases', () => {
  it('tests that cannot be computed are null', () => {
    expect(kruskal([[1, 2]])).toBeNull();
    expect(kruskal([[1, 1], [1]])).toBeNull();
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNull();
    expect(jonckheere([[2, 2], [2]])).toBeNull();
    expect(
      logrank([
        { time: [3, 4], observed: [false, false] },
        { time: [5], observed: [false] },
      ]),
    ).toBeNull();
    expect(cliffsDelta([], [1])).toBeNull();
  });

  it('all censored: survival stays at 1, no median', () => {
    const km = kaplanMeier([10, 10, 10], [false, false, false]);
    expect(km.survival).toEqual([1]);
    expect(km.median).toBeNull();
    expect(km.medianCi).toEqual([null, null]);
  });

  it('exact Mann–Whitney p is 2/C(10,5) at complete separation of 5 vs 5', () => {
    const r = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r?.method).toBe('exact');
    expect(r?.U).toBe(0);
    close(r?.p, 2 / 252);
  });

  it('bootstrap is seeded and brackets the median', () => {
    const v = [5, 9, 2, 7, 4, 8, 6];
    const a = bootstrapMedianCi(v, { resamples: 2000, confidence: 0.95, rng: createRng(7) });
    const b = bootstrapMedianCi(v, { resamples: 2000, confidence: 0.95, rng: createRng(7) });
    expect(a).toEqual(b);
    expect(a![0]).toBeLessThanOrEqual(median(v)!);
    expect(a![1]).toBeGreaterThanOrEqual(median(v)!);
  });
});

describe('bootstrap median sampler', () => {
  /** The exact law of a resample's median, by enumerating all n^n resamples. */
  function exactLaw(sorted: number[]): Map<number, number> {
    const n = sorted.length;
    const law = new Map<number, number>();
    const idx = new Array<number>(n).fill(0);
    const total = n ** n;
    for (let c = 0; c < total; c++) {
      let x = c;
      for (let i = 0; i < n; i++) {
        idx[i] = x % n;
        x = Math.floor(x / n);
      }
      const med = median(idx.map((i) => sorted[i]!))!;
      law.set(med, (law.get(med) ?? 0) + 1 / total);
    }
    return law;
  }

  it.each([
    [[1, 2, 4, 8, 16]],
    [[1, 2, 4, 8, 16, 32]],
    [[3, 5, 5, 9]],
    [[1, 10, 100, 1000, 10000, 1e5, 1e6]],
  ])('draws each median value with its resampling probability (%j)', (sorted) => {
    const law = exactLaw(sorted);
    const draw = createMedianSampler(Float64Array.from(sorted), createRng(11));
    const B = 200_000;
    const freq = new Map<number, number>();
    for (let b = 0; b < B; b++) {
      const v = draw();
      freq.set(v, (freq.get(v) ?? 0) + 1 / B);
    }
    for (const v of freq.keys()) expect(law.has(v), `value ${v} impossible`).toBe(true);
    for (const [v, p] of law) {
      // Four binomial standard errors, plus a hair for p ≈ 0.
      expect(Math.abs((freq.get(v) ?? 0) - p)).toBeLessThanOrEqual(4 * Math.sqrt((p * (1 - p)) / B) + 1e-4);
    }
  });
});

/** Two-sided exact p by enumerating every split of the pooled sample (small sizes only). */
function bruteForceTwoSided(x: number[], y: number[]): number {
  const all = [...x, ...y];
  const n1 = x.length;
  const u = (xs: number[], ys: number[]) => xs.reduce((s, a) => s + ys.filter((b) => a > b).length, 0);
  const uObs = u(x, y);
  const uMax = Math.max(uObs, n1 * y.length - uObs);
  let extreme = 0;
  let total = 0;
  const pick = (start: number, chosen: number[]): void => {
    if (chosen.length === n1) {
      const xs = chosen.map((i) => all[i]!);
      const ys = all.filter((_, i) => !chosen.includes(i));
      const v = u(xs, ys);
      total++;
      if (Math.max(v, n1 * ys.length - v) >= uMax) extreme++;
      return;
    }
    for (let i = start; i < all.length; i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  return Math.min(1, extreme / total);
}
