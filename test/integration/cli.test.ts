// The built `phasesweep` binary: help, unknown commands and unreadable files map to the
// documented exit codes with messages that name the problem.
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/processes.js';

describe('phasesweep CLI', () => {
  it('prints help with every command and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['run', 'coordinator', 'worker', 'ingest', 'submit', 'status', 'analyze'])
      expect(r.output).toContain(`  ${name} `);
  });

  it('exits 2 on an unknown command and on a missing spec file', async () => {
    expect((await runCli(['nonsense'])).code).toBe(2);
    const r = await runCli(['plan', '/nonexistent/spec.yaml']);
    expect(r.code).toBe(2);
    expect(r.output).toContain('/nonexistent/spec.yaml: (root): cannot read');
  });

  it('exits 2 naming an unknown flag', async () => {
    const r = await runCli(['plan', 'x.yaml', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.output).toContain("'--bogus'");
  });

  it('exits 3 when the coordinator is unreachable', async () => {
    const r = await runCli(['status', '--coordinator', '127.0.0.1:1']);
    expect(r.code).toBe(3);
    expect(r.output).toContain('unreachable');
  });

  it('plans a sweep', async () => {
    const r = await runCli(['plan', 'examples/quickstart.yaml', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.output)).toMatchObject({ sweep: 'quickstart', count: 6 });
  });
});
