import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, ExitError } from '../../cli/command.js';
import { COMMANDS } from '../../cli/commands.js';
import { PhasesweepError } from '../../spec/index.js';

describe('cli dispatch table', () => {
  it.each(Object.keys(COMMANDS))('%s loads and has help that starts with its usage', async (name) => {
    const command = (await COMMANDS[name]!.load()).default;
    expect(command.help).toMatch(new RegExp(`^Usage: phasesweep ${name}\\b`));
    expect(typeof command.run).toBe('function');
  });

  it('has help for every sweep subcommand', async () => {
    const sweep = (await COMMANDS['sweep']!.load()).default as unknown as {
      subcommands: Record<string, { load: () => Promise<{ default: { help: string } }> }>;
    };
    for (const [name, entry] of Object.entries(sweep.subcommands)) {
      expect((await entry.load()).default.help).toMatch(new RegExp(`^Usage: phasesweep sweep ${name}\\b`));
    }
  });

  it('maps errors to the documented exit codes', () => {
    expect(exitCodeFor(new ExitError(EXIT.usage, 'x'))).toBe(2);
    expect(exitCodeFor(new PhasesweepError('INVALID_SPEC', 'x'))).toBe(2);
    expect(exitCodeFor(new PhasesweepError('UNAVAILABLE', 'x'))).toBe(3);
    expect(exitCodeFor(new PhasesweepError('ENGINE_UNAVAILABLE', 'x'))).toBe(4);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });
});
