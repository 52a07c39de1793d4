import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeMatrixProbes, meanPairwiseCos, singularValues, toDense } from '../../worker/probes/index.js';

interface FixtureCase {
  W_prev: number[][];
  W: number[][];
  G: number[][];
  clusters?: number[];
  expected: Record<string, number | number[] | null>;
}
const fixtures = JSON.parse(
  readFileSync(new URL('../../../shared/fixtures/probes.json', import.meta.url), 'utf8'),
) as {
  cases: FixtureCase[];
};

function expectClose(got: number | null | undefined, want: number, name: string): void {
  expect(got, name).not.toBeNull();
  const err = Math.abs(got! - want) / Math.max(Math.abs(want), 1e-300);
  expect(err, `${name}: got ${got}, want ${want}`).toBeLessThan(1e-9);
}

describe('matrix probes against the numpy fixtures', () => {
  fixtures.cases.forEach((c, i) => {
    it(`case ${i} (${c.W.length}×${c.W[0]!.length})`, () => {
      const { probes, singularValues: sv } = computeMatrixProbes(c);
      for (const [name, want] of Object.entries(c.expected)) {
        if (name === 'singular_values') {
          const w = want as number[];
          expect(sv).toHaveLength(w.length);
          w.forEach((s, k) => expectClose(sv[k], s, `σ${k}`));
        } else if (want === null) {
          expect(probes[name as keyof typeof probes], name).toBeNull();
        } else {
          expectClose(probes[name as keyof typeof probes], want as number, name);
        }
      }
    });
  });
});

describe('probe edge cases', () => {
  it('reports undefined ratios as null, never NaN or Infinity', () => {
    const w = [
      [1, 0],
      [0, 1],
    ];
    const p = computeMatrixProbes({
      W_prev: w,
      W: w,
      G: [
        [1, 1],
        [0, 0],
      ],
    }).probes;
    expect(p.drift).toBe(0);
    expect(p.grad_drift_ratio).toBeNull();
    expect(p.stability).toBeCloseTo(1, 15);
  });

  it('mean pairwise cosine matches the O(V²) definition and skips zero rows', () => {
    const rows = [
      [1, 2, 0],
      [0, 0, 0],
      [-1, 0.5, 3],
      [2, 2, 2],
    ];
    const unit = rows.filter((r) => r.some((x) => x !== 0)).map((r) => r.map((x) => x / Math.hypot(...r)));
    let s = 0;
    let n = 0;
    unit.forEach((a, i) =>
      unit.forEach((b, j) => {
        if (i !== j) {
          s += a.reduce((t, x, k) => t + x * b[k]!, 0);
          n++;
        }
      }),
    );
    expect(meanPairwiseCos(toDense(rows))).toBeCloseTo(s / n, 14);
  });

  it('Gram eigenvalues and SVD agree (V ≥ d and V < d paths)', () => {
    const tall = toDense(
      Float64Array.from({ length: 30 }, (_, i) => Math.sin(i * 1.7) + i / 10),
      3,
    );
    const wideRows = Array.from({ length: 3 }, (_, r) =>
      Array.from({ length: 10 }, (_, c) => tall.data[c * 3 + r]!),
    );
    const a = singularValues(tall);
    const b = singularValues(toDense(wideRows));
    a.forEach((s, k) => expect(Math.abs(s - b[k]!) / s).toBeLessThan(1e-12));
  });
});

describe('phasesweep probe --input --json', () => {
  it('prints every matrix probe per case, matching the fixtures', async () => {
    const { default: probe } = await import('../../cli/commands/probe.js');
    let out = '';
    const stdout = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const input = fileURLToPath(new URL('../../../shared/fixtures/probes.json', import.meta.url));
    const code = await probe.run(['--input', input, '--json'], {
      stdout,
      stderr: stdout,
      signal: new AbortController().signal,
    });
    expect(code ?? 0).toBe(0);
    const got = JSON.parse(out) as { cases: Record<string, number | null>[] };
    expect(got.cases).toHaveLength(fixtures.cases.length);
    got.cases.forEach((c, i) => {
      for (const [name, want] of Object.entries(fixtures.cases[i]!.expected)) {
        if (typeof want === 'number') expectClose(c[name], want, name);
      }
    });
  });
});

describe('the memo one epoch leaves for the next', () => {
  const rand = (seed: number, n: number) => {
    let s = seed;
    return Float64Array.from({ length: n }, () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5);
  };
  const [w0, w1, w2] = [1, 2, 3].map((seed) => rand(seed, 40 * 6));
  const g = rand(9, 40 * 6);

  it('gives exactly the probes a call without it gives', () => {
    const first = computeMatrixProbes({ W_prev: w0!, W: w1!, G: g, cols: 6 });
    const withMemo = computeMatrixProbes({ W_prev: w1!, W: w2!, G: g, cols: 6, memo: first.memo });
    const without = computeMatrixProbes({ W_prev: w1!, W: w2!, G: g, cols: 6 });
    expect(withMemo.probes).toEqual(without.probes);
    expect(withMemo.probes.cka_prev).not.toBeNull();
  });

  it('is ignored when its matrix is not W_prev', () => {
    const stale = computeMatrixProbes({ W_prev: w0!, W: w1!, G: g, cols: 6 }).memo;
    const got = computeMatrixProbes({ W_prev: w0!, W: w2!, G: g, cols: 6, memo: stale });
    expect(got.probes).toEqual(computeMatrixProbes({ W_prev: w0!, W: w2!, G: g, cols: 6 }).probes);
    // A memo whose values were changed after the fact is not trusted either.
    const copy = computeMatrixProbes({ W_prev: w0!, W: w1!, G: g, cols: 6 }).memo;
    copy.centredGramNorm *= 2;
    copy.w[0] = copy.w[0]! + 1;
    expect(computeMatrixProbes({ W_prev: w1!, W: w2!, G: g, cols: 6, memo: copy }).probes).toEqual(
      computeMatrixProbes({ W_prev: w1!, W: w2!, G: g, cols: 6 }).probes,
    );
  });
});
