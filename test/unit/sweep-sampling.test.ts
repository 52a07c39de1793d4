import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sweepSpecJsonSchema } from '../../spec/json-schema.js';
import { expandSweep, parseSweepYaml, randomPoints, sobolPoints } from '../../spec/index.js';

describe('sampled axes', () => {
  it('matches scipy qmc.Sobol(d=8, scramble=False) point for point', () => {
    const p = sobolPoints(64, 8);
    // Reference values printed by scipy 1.17 (rows 0, 1, 2, 8, 33, 63).
    expect(p[0]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(p[1]).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    expect(p[2]!.slice(0, 5)).toEqual([0.75, 0.25, 0.25, 0.25, 0.75]);
    expect(p[8]!.slice(0, 5)).toEqual([0.1875, 0.3125, 0.9375, 0.4375, 0.5625]);
    expect(p[33]).toEqual([0.546875, 0.765625, 0.203125, 0.046875, 0.640625, 0.421875, 0.296875, 0.171875]);
    expect(p[63]).toEqual([0.015625, 0.796875, 0.359375, 0.453125, 0.859375, 0.140625, 0.578125, 0.140625]);
  });

  it('draws seeded uniform points in [0, 1), the same for the same seed', () => {
    const a = randomPoints(100, 3, 7);
    expect(a).toEqual(randomPoints(100, 3, 7));
    expect(a).not.toEqual(randomPoints(100, 3, 8));
    expect(a.flat().every((u) => u >= 0 && u < 1)).toBe(true);
  });

  it('crosses n joint samples of the continuous axes with the grid and the seeds', () => {
    const spec = parseSweepYaml(`
name: s
seeds: 2
axes:
  weight_decay: [0, 0.1]
  lr: { sample: log-uniform, min: 0.0001, max: 0.01 }
  noise: { sample: uniform, min: 0, max: 0.5 }
samples: { n: 4, method: sobol }
`);
    const trials = expandSweep(spec);
    expect(trials).toHaveLength(2 * 4 * 2);
    const lrs = [...new Set(trials.map((t) => t.axes['lr']))];
    expect(lrs).toHaveLength(4);
    // Sobol point 1 is 0.5 on every axis: the geometric middle of lr, the middle of noise.
    const mid = trials.find((t) => Math.abs((t.axes['lr'] as number) - 0.001) < 1e-12)!;
    expect(mid.axes['noise']).toBeCloseTo(0.25, 12);
    expect(mid.config.train.lr).toBe(mid.axes['lr']);
    expect(trials.every((t) => t.config.train.lr >= 0.0001 && t.config.train.lr <= 0.01)).toBe(true);
  });

  it('rejects sampled axes without `samples`, and ranges the field cannot take', () => {
    expect(() =>
      parseSweepYaml('name: s\nseeds: 1\naxes: { lr: { sample: uniform, min: 0.1, max: 1 } }', 'x.yaml'),
    ).toThrow(/x\.yaml: samples: sampled axes need/);
    expect(() =>
      parseSweepYaml(
        'name: s\nseeds: 1\nsamples: { n: 3 }\naxes: { weight_decay: { sample: uniform, min: -1, max: 1 } }',
        'x.yaml',
      ),
    ).toThrow(/x\.yaml: axes\.weight_decay\.min: value -1/);
    expect(() =>
      parseSweepYaml(
        'name: s\nseeds: 1\nsamples: { n: 3 }\naxes: { lr: { sample: log-uniform, min: 0, max: 1 } }',
        'x.yaml',
      ),
    ).toThrow(/log-uniform needs min > 0/);
  });
});

describe('published JSON Schema', () => {
  it('is up to date (regenerate with `npm run build && npm run schema:gen`)', () => {
    const committed = JSON.parse(readFileSync('spec/sweep-spec.schema.json', 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(sweepSpecJsonSchema())));
  });
});
