// `npm run chaos -- --duration S --seed N`: a randomised fault run against real processes and
// servers, printing one JSON report; exit 0 when every check passed, 1 when one failed.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { findMarked, killAll } from './orphans.js';
import { passed } from './report.js';
import { runChaos } from './run.js';

const HELP = `Usage: npm run chaos -- [--duration S] [--seed N] [options]

Starts its own nats-server and clickhouse-server, a coordinator, ingesters, workers and an
embedded \`phasesweep run\`, trains waves of short trials while a schedule drawn from the seed
kills, pauses, interrupts and partitions them for S seconds, then checks that every trial
completed once with one row per epoch, resumed series equal to uninterrupted runs, no process
left behind and counters that agree. Prints one JSON report (the schedule goes to stderr).
  --duration S   length of the fault phase in seconds (default 60)
  --seed N       decides every fault, target and delay (default: random, printed)
  --workers N    cluster workers (default 3; one runs in a network namespace)
  --ingesters N  ingesters (default 2)
  --no-netns     no network namespace: every worker on the host, no partitions
  --keep         keep the run's directory (process logs, stores) even when it passes
Needs the built CLI (npm run build), nats-server and clickhouse-server (scripts/services.sh install);
partitions need root for \`ip netns\`.`;

function int(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name}: expected an integer ≥ ${min}, got "${value}"`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      ingesters: { type: 'string' },
      'no-netns': { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const durationS = int('duration', values.duration, 60, 1);
  const seed = int('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0);
  if (seed > 0xffffffff) throw new Error('--seed: at most 4294967295');
  const workers = int('workers', values.workers, 3, 1);
  const ingesters = int('ingesters', values.ingesters, 2, 1);

  const controller = new AbortController();
  let runId: string | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // Second signal: end now, but take the run's processes and namespace with us.
      if (runId !== undefined) {
        killAll(findMarked(runId));
        try {
          execFileSync('ip', ['netns', 'del', `chaos-${runId}`], { stdio: 'ignore' });
        } catch {
          // none
        }
      }
      process.exit(130);
    }
    process.stderr.write(`\nchaos: ${sig}, stopping every process of the run (again to force)\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Everything is bounded; this is the bound on the bounds.
  const watchdog = setTimeout(() => controller.abort(new Error('watchdog')), (durationS + 1800) * 1000);
  watchdog.unref();

  const report = await runChaos({
    seed,
    durationS,
    workers,
    ingesters,
    netns: values['no-netns'] !== true,
    keep: values.keep === true,
    signal: controller.signal,
    log: (line) => {
      const m = /^\[chaos [^\]]*\] run (\w+) in /.exec(line);
      if (m !== null) runId = m[1];
      process.stderr.write(`${line}\n`);
    },
  });
  clearTimeout(watchdog);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (controller.signal.aborted) return 130;
  return passed(report) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Handles of clients already closed can keep the loop alive for a while; the report is out.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
