// Absurd sweep sizes: `run` and `sweep submit` refuse to start them without a terminal or
// --yes, naming the file and the size; `sweep plan` reports them without NaN or Infinity.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';

const HUGE = `
name: huge
seeds: 100000
base:
  train: { epochs: 1000000000 }
`;

describe('very large sweeps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-size-'));
  const file = join(dir, 'huge.yaml');
  writeFileSync(file, HUGE);

  it('run asks before starting, and refuses without a terminal', async () => {
    const { code, output } = await runCli(['run', file, '--dir', dir]);
    expect(code).toBe(2);
    expect(output).toContain(`${file}: this sweep has 100,000 trials`);
    expect(output).toContain('100,000,000,000,000 trial-epochs');
    expect(output).toContain('--yes');
    expect(output).not.toMatch(/NaN|Infinity|NFs/);
  });

  it('sweep submit refuses the same way before contacting any coordinator', async () => {
    const { code, output } = await runCli(['sweep', 'submit', file, '--coordinator', '127.0.0.1:1']);
    expect(code).toBe(2);
    expect(output).toContain('--yes');
  });

  it('sweep plan prints the size with finite numbers', async () => {
    const { code, output } = await runCli(['sweep', 'plan', file, '--json']);
    expect(code, output).toBe(0);
    const plan = JSON.parse(output) as { count: number; epochs: number; epoch_hours: number };
    expect(plan.count).toBe(100_000);
    expect(Number.isFinite(plan.epoch_hours)).toBe(true);
    expect(output).not.toMatch(/NaN|Infinity/);
  });
});
