// The built `phasesweep` binary: help, unknown commands and unreadable files map to the
// documented exit codes with messages that name the problem.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';

describe('phasesweep CLI', () => {
  it('prints help with every command and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['run', 'sweep', 'coordinator', 'worker', 'ingest', 'analyze'])
      expect(r.output).toContain(`  ${name} `);
  });

  it('exits 2 on an unknown command and on a missing spec file', async () => {
    expect((await runCli(['nonsense'])).code).toBe(2);
    const r = await runCli(['sweep', 'plan', '/nonexistent/spec.yaml']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('/nonexistent/spec.yaml: (root): cannot read');
  });

  it('exits 2 naming an unknown flag', async () => {
    const r = await runCli(['sweep', 'plan', 'x.yaml', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.output).toContain("'--bogus'");
  });

  it('exits 3 when the coordinator is unreachable', async () => {
    const r = await runCli(['sweep', 'list', '--coordinator', '127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.output).toContain('unreachable');
  });

  it('plans a sweep and warns when the seeds per arm cannot reach α', async () => {
    const ok = await runCli(['sweep', 'plan', 'examples/quickstart.yaml', '--json']);
    expect(ok.code).toBe(0);
    type Plan = { count: number; min_p: number; warnings: string[]; epoch_hours: number };
    const plan = JSON.parse(ok.output) as Plan;
    expect(plan).toMatchObject({ count: 15, warnings: [] });
    expect(plan.min_p).toBeCloseTo(2 / 252, 12); // 5 vs 5: 2 / C(10, 5) = 0.0079
    expect(plan.epoch_hours).toBeGreaterThan(0);

    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-plan-'));
    const few = join(dir, 'few.yaml');
    writeFileSync(
      few,
      'name: few\nseeds: 3\nbase: { train: { epochs: 40 } }\naxes: { weight_decay: [0, 0.1] }\n',
    );
    const warned = JSON.parse((await runCli(['sweep', 'plan', few, '--json'])).output) as Plan;
    expect(warned.min_p).toBeCloseTo(0.1, 12); // 3 vs 3: 2 / C(6, 3)
    expect(warned.warnings[0]).toMatch(
      /smallest exact two-sided Mann–Whitney p is 0.100 > α = 0.05.*≥ 4 seeds/,
    );
    const text = await runCli(['sweep', 'plan', few, '--alpha', '0.2']);
    expect(text.output).not.toContain('warning');
    expect(text.output).toMatch(/6 trials \(2 arms × 3 seeds\), 240 epochs/);
  });

  it('shows help for sweep subcommands', async () => {
    const r = await runCli(['sweep', 'plan', '--help']);
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/^Usage: phasesweep sweep plan/);
  });
});
