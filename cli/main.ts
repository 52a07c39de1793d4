// The `phasesweep` entry point: one dispatch table of lazily loaded commands, one place that
// maps errors to exit codes, and the only place that handles process signals.
import { exitCodeFor, EXIT } from './command.js';
import { COMMANDS } from './commands.js';

const HELP = `phasesweep — sweeps that find when training changes phase

Usage: phasesweep <command> [options]   (phasesweep <command> --help for its options)

Commands:
${Object.entries(COMMANDS)
  .map(([name, e]) => `  ${name.padEnd(12)} ${e.summary}`)
  .join('\n')}

Exit codes: 0 ok · 1 the job failed (e.g. trials failed) · 2 bad input (usage, spec, file)
            3 a server is unreachable or refused us · 4 no usable training engine · 130 interrupted
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') {
    const pkg = (await import('../package.json', { with: { type: 'json' } })).default;
    process.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    process.stderr.write(`phasesweep: unknown command "${name}"\n\n${HELP}`);
    return EXIT.usage;
  }
  const command = (await entry.load()).default;
  if (!command.handlesHelp && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return EXIT.ok;
  }
  const controller = new AbortController();
  // The same signal twice forces an exit. A different one does not: Ctrl-C reaches a whole
  // process group, so local workers get SIGINT from the terminal and SIGTERM from their parent,
  // and must still hand their trials over.
  const seen = new Set<NodeJS.Signals>();
  const onSignal = (sig: NodeJS.Signals) => {
    if (seen.has(sig)) process.exit(EXIT.interrupted);
    seen.add(sig);
    if (seen.size > 1) return;
    process.stderr.write(
      `\nphasesweep: ${sig}, stopping (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again to force)\n`,
    );
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await command.run(rest, {
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
  });
  return code ?? EXIT.ok;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`phasesweep: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = exitCodeFor(err);
  },
);
