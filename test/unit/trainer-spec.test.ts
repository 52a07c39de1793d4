// Command trainers in sweep specs: the trainer union, free-form params as axes, resources, cwd
// resolution against the spec file, and trial ids that stay what they were for builtin specs.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  expandSweep,
  loadSweepSpec,
  parseSweepYaml,
  SpecError,
  trialId,
  TrialConfig,
} from '../../spec/index.js';

const COMMAND_SPEC = `
name: byo
seeds: 2
base:
  trainer:
    command: [python3, train.py]
    cwd: trainers
    env: { OMP_NUM_THREADS: "1" }
  params: { hidden: 64, schedule: { kind: cosine } }
  train: { epochs: 20 }
  resources: { gpu: 1 }
axes:
  params.hidden: [32, 64]
  params.dropout: [0, 0.1]
  weight_decay: [0, 0.1]
`;

function specError(text: string): string {
  try {
    parseSweepYaml(text, 'spec.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    return (err as Error).message;
  }
  throw new Error('expected a SpecError');
}

describe('trainer, params and resources in trial configs', () => {
  it('defaults to the built-in engine with no params and no GPU', () => {
    const c = TrialConfig.parse({});
    expect(c.trainer).toBe('builtin');
    expect(c.params).toEqual({});
    expect(c.resources).toEqual({ gpu: 0 });
  });

  it('fills a command trainer’s defaults', () => {
    const c = TrialConfig.parse({ trainer: { command: ['./train'] } });
    expect(c.trainer).toEqual({ command: ['./train'], env: {}, timeout_s: 600, stop_grace_s: 10 });
  });

  it('keeps the trial ids of built-in configs from before these fields existed', () => {
    const c = TrialConfig.parse({ train: { lr: 0.5 } });
    const { trainer: _t, params: _p, resources: _r, ...before } = c;
    const old = `t${createHash('sha256')
      .update(`${canonicalJson(before)}|7`)
      .digest('hex')
      .slice(0, 16)}`;
    expect(trialId(c, 7)).toBe(old);
    expect(trialId(TrialConfig.parse({ params: { a: 1 } }), 7)).not.toBe(old);
    expect(trialId(TrialConfig.parse({ resources: { gpu: 1 } }), 7)).not.toBe(old);
    expect(trialId(TrialConfig.parse({ trainer: { command: ['x'] } }), 7)).not.toBe(old);
  });

  it('expands axes over keys of params, present in the base or not, like any field', () => {
    const trials = expandSweep(parseSweepYaml(COMMAND_SPEC));
    expect(trials).toHaveLength(2 * 2 * 2 * 2);
    const t = trials.find((x) => x.axes['params.hidden'] === 32 && x.axes['params.dropout'] === 0.1)!;
    expect(t.config.params).toEqual({ hidden: 32, dropout: 0.1, schedule: { kind: 'cosine' } });
    expect(t.config.resources.gpu).toBe(1);
    expect(new Set(trials.map((x) => x.trialId)).size).toBe(16);
  });

  it('reports a shell string, an empty argv and unknown fields at their paths', () => {
    const base = (trainer: string) => `
name: bad
seeds: 1
base:
  trainer: ${trainer}
`;
    expect(specError(base('{ command: "python3 train.py" }'))).toContain(
      'spec.yaml: base.trainer.command: an argv list such as [python3, train.py], never a shell string',
    );
    expect(specError(base('{ command: [] }'))).toContain(
      'spec.yaml: base.trainer.command: needs at least the program to run',
    );
    expect(specError(base('{ command: [x], timeout: 3 }'))).toMatch(
      /spec\.yaml: base\.trainer: Unrecognized key: "timeout"/,
    );
    expect(specError(base('{ command: [x], timeout_s: 0 }'))).toMatch(/base\.trainer\.timeout_s: Too small/);
    expect(specError(base('pytorch'))).toContain(
      'spec.yaml: base.trainer: expected "builtin" or { command: [argv, ...] }',
    );
    expect(specError(base('builtin\n  resources: { gpu: -1 }'))).toMatch(/base\.resources\.gpu: Too small/);
    expect(specError(base('builtin\n  params: [1, 2]'))).toMatch(/spec\.yaml: base\.params: /);
  });

  it('checks axis levels over the trainer like other fields', () => {
    const msg = specError(`
name: bad
seeds: 1
base:
  trainer: { command: [x] }
axes:
  trainer.timeout_s: [10, -1]
  trainer.bogus: [1]
`);
    expect(msg).toContain('spec.yaml: axes.trainer.timeout_s[1]: value -1: trainer.timeout_s: Too small');
    expect(msg).toContain('spec.yaml: axes.trainer.bogus: no such field "trainer.bogus"');
  });

  it("resolves a relative cwd against the spec file's directory when loaded from a file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-spec-'));
    const file = join(dir, 'sweep.yaml');
    writeFileSync(file, COMMAND_SPEC);
    const spec = await loadSweepSpec(file);
    const cwd = (c: TrialConfig) => (c.trainer === 'builtin' ? undefined : c.trainer.cwd);
    expect(cwd(spec.base)).toBe(join(dir, 'trainers'));
    expect(expandSweep(spec).every((t) => cwd(t.config) === join(dir, 'trainers'))).toBe(true);
    // No cwd: the spec's directory. Absolute: as written. Text without a file: left as written.
    writeFileSync(file, COMMAND_SPEC.replace('    cwd: trainers\n', ''));
    expect(cwd((await loadSweepSpec(file)).base)).toBe(dir);
    writeFileSync(file, COMMAND_SPEC.replace('cwd: trainers', 'cwd: /opt/t'));
    expect(cwd((await loadSweepSpec(file)).base)).toBe('/opt/t');
    expect(cwd(parseSweepYaml(COMMAND_SPEC).base)).toBe('trainers');
    // An axis over the cwd resolves per trial.
    writeFileSync(file, `${COMMAND_SPEC}  trainer.cwd: [a, /b]\n`);
    const cwds = new Set(expandSweep(await loadSweepSpec(file)).map((t) => cwd(t.config)));
    expect(cwds).toEqual(new Set([join(dir, 'a'), '/b']));
  });

  it('leaves built-in specs loaded from a file exactly as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-spec-'));
    const file = join(dir, 'sweep.yaml');
    const text = 'name: plain\nseeds: 2\naxes:\n  lr: [0.1, 0.01]\n';
    writeFileSync(file, text);
    const fromFile = expandSweep(await loadSweepSpec(file));
    expect(fromFile).toEqual(expandSweep(parseSweepYaml(text)));
    expect(fromFile[0]!.config.trainer).toBe('builtin');
  });
});
