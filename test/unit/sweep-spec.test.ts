import { describe, expect, it } from 'vitest';
import {
  expandSweep,
  parseSweepYaml,
  replicateSeeds,
  SpecError,
  trialId,
  TrialConfig,
} from '../../spec/index.js';

const SPEC = `
name: demo
seeds: 3
base:
  train: { epochs: 5 }
axes:
  weight_decay: [0, 0.1]
  noise: [0, 0.5]
`;

describe('sweep spec', () => {
  it('expands axes × seeds into trials with deterministic, distinct ids', () => {
    const a = expandSweep(parseSweepYaml(SPEC));
    const b = expandSweep(parseSweepYaml(SPEC));
    expect(a).toHaveLength(12);
    expect(a.map((t) => t.trialId)).toEqual(b.map((t) => t.trialId));
    expect(new Set(a.map((t) => t.trialId)).size).toBe(12);
    const t = a.find((x) => x.axes['weight_decay'] === 0.1 && x.axes['noise'] === 0.5)!;
    expect(t.config.train.weight_decay).toBe(0.1);
    expect(t.config.train.noise).toBe(0.5);
    expect(t.config.train.epochs).toBe(5);
  });

  it('adds only new trials when seeds grow, keeping existing ids', () => {
    const three = expandSweep(parseSweepYaml(SPEC)).map((t) => t.trialId);
    const five = expandSweep(parseSweepYaml(SPEC.replace('seeds: 3', 'seeds: 5'))).map((t) => t.trialId);
    expect(five).toHaveLength(20);
    expect(three.every((id) => five.includes(id))).toBe(true);
  });

  it('derives distinct replicate seeds from the sweep seed', () => {
    const s = replicateSeeds({ seeds: 50, sweep_seed: 1 });
    expect(new Set(s).size).toBe(50);
    expect(replicateSeeds({ seeds: 50, sweep_seed: 2 })).not.toEqual(s);
    expect(replicateSeeds({ seeds: [4, 9], sweep_seed: 0 })).toEqual([4, 9]);
  });

  it('makes the trial id depend on config and seed only', () => {
    const c = TrialConfig.parse({});
    expect(trialId(c, 1)).toBe(trialId(TrialConfig.parse({}), 1));
    expect(trialId(c, 1)).not.toBe(trialId(c, 2));
    expect(trialId(c, 1)).not.toBe(trialId(TrialConfig.parse({ train: { lr: 0.5 } }), 1));
  });

  it('reports every problem at once with its path and the file name', () => {
    const bad = `
name: "bad name!"
seeds: 0
base:
  train: { epochs: -1, lr: 0.1 }
axes:
  weight_decay: [0, -1]
  nonsense.field: [1]
`;
    let err: unknown;
    try {
      parseSweepYaml(bad, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SpecError);
    const msg = (err as SpecError).message;
    expect(msg).toContain('bad.yaml: name:');
    expect(msg).toContain('bad.yaml: seeds:');
    // Outer-schema problems are reported before the base is read; fix and re-check the rest.
    const second = bad.replace('"bad name!"', 'ok').replace('seeds: 0', 'seeds: 2');
    expect(() => parseSweepYaml(second, 'bad.yaml')).toThrow(/bad\.yaml: base\.train\.epochs:/);
    const third = second.replace('epochs: -1', 'epochs: 3');
    const m3 = (() => {
      try {
        parseSweepYaml(third, 'bad.yaml');
        return '';
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(m3).toContain('axes.weight_decay[1]: value -1');
    expect(m3).toContain('axes.nonsense.field: no such field');
  });

  it('rejects malformed YAML with the file name', () => {
    expect(() => parseSweepYaml('name: [unclosed', 'x.yaml')).toThrow(/x\.yaml: \(root\): not valid YAML/);
  });
});
