// The `phasesweep` entry point: one dispatch table of lazily loaded commands, one place that
// maps errors to exit codes, and the only place that handles process signals.
import { exitCodeFor, EXIT, type Command } from './command.js';

interface Entry {
  summary: string;
  load: () => Promise<{ default: Command }>;
}

const COMMANDS: Record<string, Entry> = {
  run: {
    summary: 'run a sweep on this machine (coordinator, local workers, embedded store)',
    load: () => import('./commands/run.js'),
  },
  plan: {
    summary: 'expand a sweep spec and print its trials (dry run)',
    load: () => import('./commands/plan.js'),
  },
  coordinator: {
    summary: 'serve the coordinator (gRPC) for a cluster',
    load: () => import('./commands/coordinator.js'),
  },
  worker: {
    summary: 'connect to a coordinator and train the trials it leases',
    load: () => import('./commands/worker.js'),
  },
  ingest: {
    summary: 'move probe events from NATS JetStream into ClickHouse',
    load: () => import('./commands/ingest.js'),
  },
  train: {
    summary: 'train one trial standalone and write its probe events as JSON lines',
    load: () => import('./commands/train.js'),
  },
  probe: {
    summary: 'compute the matrix probes for given matrices (JSON in, JSON out)',
    load: () => import('./commands/probe.js'),
  },
  analyze: {
    summary: 'find phase events and test their timing across seeds and axes',
    load: () => import('./commands/analyze.js'),
  },
  export: { summary: 'export a local store to Parquet', load: () => import('./commands/export.js') },
  submit: {
    summary: 'submit a sweep spec to a running coordinator',
    load: () => import('./commands/submit.js'),
  },
  status: {
    summary: "show a sweep's progress on a running coordinator",
    load: () => import('./commands/status.js'),
  },
};

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
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.endsWith('\n') ? command.help : `${command.help}\n`);
    return EXIT.ok;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write(`\nphasesweep: ${sig}, stopping (again to force)\n`);
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
