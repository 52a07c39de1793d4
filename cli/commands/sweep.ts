import type { Command } from '../command.js';
import { usageError } from '../command.js';

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  plan: {
    summary: 'dry run: trials, count, estimated epoch-hours, α warnings',
    load: () => import('../sweep/plan.js'),
  },
  submit: {
    summary: 'submit a sweep spec (again: adds only new trials)',
    load: () => import('../sweep/submit.js'),
  },
  status: { summary: "a sweep's trials and their states", load: () => import('../sweep/status.js') },
  watch: { summary: 'live progress bars until the sweeps finish', load: () => import('../sweep/watch.js') },
  cancel: { summary: 'cancel a sweep', load: () => import('../sweep/cancel.js') },
  retry: {
    summary: 'make failed and cancelled trials pending again',
    load: () => import('../sweep/retry.js'),
  },
  list: { summary: "the coordinator's sweeps", load: () => import('../sweep/list.js') },
};

const HELP = `Usage: phasesweep sweep <subcommand> [options]   (phasesweep sweep <subcommand> --help)

${Object.entries(SUBCOMMANDS)
  .map(([name, e]) => `  ${name.padEnd(8)} ${e.summary}`)
  .join('\n')}`;

const command: Command & { subcommands: typeof SUBCOMMANDS } = {
  help: HELP,
  handlesHelp: true,
  subcommands: SUBCOMMANDS,
  async run(argv, io) {
    const [name, ...rest] = argv;
    if (name === '--help' || name === '-h') {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    const entry = name === undefined ? undefined : SUBCOMMANDS[name];
    if (entry === undefined)
      throw usageError(
        name === undefined
          ? `sweep: missing subcommand\n\n${HELP}`
          : `sweep: unknown subcommand "${name}"\n\n${HELP}`,
      );
    const sub = (await entry.load()).default;
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(sub.help + '\n');
      return 0;
    }
    return sub.run(rest, io);
  },
};
export default command;
