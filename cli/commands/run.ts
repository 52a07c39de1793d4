import { SingleBar, Presets } from 'cli-progress';
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import {
  Coordinator,
  createCoordinatorMetrics,
  FileStateStore,
  liveRoutes,
  ProbeSeriesStore,
  silentLogger,
  sweepStatus,
} from '../../coordinator/index.js';
import { createRegistry } from '../../observability/index.js';
import { openDuckDbStore } from '../../pipeline/index.js';
import { expandSweep, loadSweepSpec, PhasesweepError } from '../../spec/index.js';
import { EXIT, intFlag, parseFlags, usageError, type Command } from '../command.js';
import { DEFAULT_HTTP, HTTP_FLAG, startHttp } from '../http-flag.js';
import { confirmSweepSize } from '../confirm.js';
import { LocalWorkers } from '../local-workers.js';
import { summaryTable } from '../summary.js';
import { remainingText, sweepSize } from '../sweep-size.js';

const command: Command = {
  help: `Usage: phasesweep run SPEC.yaml [--workers N] [--engine NAME] [--dir DIR]

Runs a whole sweep on this machine: a coordinator, N local worker processes and an embedded
DuckDB store (DIR/<sweep>.duckdb). Shows progress, then a summary per axis level. The
coordinator's state (DIR/<sweep>.state) and checkpoints (DIR/checkpoints) survive an interrupted
run: running the same command again resumes it, and adds any trials the spec gained.
  --workers  worker processes (default: cores, at most the number of trials)
  --engine   training engine for the workers (default wasm)
  --dir      where the store and worker log go (default .phasesweep)
  --json     print the final status as JSON instead of the summary table
  --yes      start a very large sweep without asking (above 10 000 trials or 10 million
             trial-epochs, run asks first, and refuses without a terminal)
  --http     live page (progress and probe curves), /metrics, /healthz, /readyz on HOST:PORT
             (default ${DEFAULT_HTTP.run}, or a free port when taken; off: none)

Exit: 0 every trial completed or diverged · 1 some trial failed · 2 bad spec · 130 interrupted`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, {
      workers: { type: 'string' },
      engine: { type: 'string', default: 'wasm' },
      dir: { type: 'string', default: '.phasesweep' },
      json: { type: 'boolean' },
      yes: { type: 'boolean' },
      ...HTTP_FLAG,
    });
    const file = positionals[0];
    if (file === undefined) throw usageError('run: missing SPEC.yaml');
    const spec = await loadSweepSpec(file);
    const planned = expandSweep(spec);
    await confirmSweepSize({ file, size: sweepSize(planned), yes: values.yes === true, stderr: io.stderr });
    const workers = Math.min(intFlag('workers', values.workers, availableParallelism(), 1), planned.length);

    const dir = resolve(values.dir);
    await mkdir(dir, { recursive: true });
    const storePath = join(dir, `${spec.name}.duckdb`);
    const logFile = join(dir, `${spec.name}.workers.log`);
    const store = await openDuckDbStore(storePath);
    const metricsRegistry = createRegistry('coordinator');
    const metrics = createCoordinatorMetrics(metricsRegistry);
    // Probe events pass through the coordinator here: the live page keeps a thinned copy.
    const series = new ProbeSeriesStore();
    const coordinator = await Coordinator.create({
      listen: '127.0.0.1:0',
      log: silentLogger,
      stateStore: new FileStateStore(join(dir, `${spec.name}.state`)),
      sinks: {
        probes: (events) => {
          series.add(events);
          return store.insertProbes(events);
        },
        trial: (e) => store.upsertTrial(e),
      },
      onTrialEvent: metrics.onTrialEvent,
    });
    metrics.observe(coordinator);
    void coordinator.run();
    // Leases from an interrupted run belong to workers that are gone: hand them back at once.
    coordinator.scheduler.releaseAllLeases('resumed after an interrupted run');
    const { sweepId, total } = coordinator.scheduler.submit(spec, planned);
    const http = await startHttp(values.http, DEFAULT_HTTP.run, {
      registry: metricsRegistry,
      notReady: () => (coordinator.state === 'running' ? undefined : coordinator.state),
      routes: [liveRoutes({ scheduler: coordinator.scheduler, store: series })],
    });
    if (http !== undefined)
      io.stderr.write(`live page: ${http.url}/?sweep=${encodeURIComponent(spec.name)}\n`);
    const registry = coordinator.scheduler.registry;
    io.stderr.write(
      `sweep ${sweepId}: ${total} trials on ${workers} local workers (${values.engine}); store ${storePath}\n`,
    );

    const pool = new LocalWorkers({
      count: workers,
      coordinator: coordinator.address,
      engine: values.engine,
      logFile,
      checkpointDir: join(dir, 'checkpoints'),
    });
    const bar = new SingleBar(
      {
        format: ' {bar} {percentage}% | epochs {value}/{total} | trials {done}/{trials} | {left} left',
        stream: io.stderr,
        hideCursor: true,
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      Presets.shades_classic,
    );
    const sweep = registry.get(sweepId)!;
    const first = sweepStatus(coordinator.scheduler, sweep, false);
    const startedAt = Date.now();
    const left = (done: number) =>
      remainingText(done, first.epochs_total, first.epochs_done, Date.now() - startedAt);
    bar.start(first.epochs_total, first.epochs_done, {
      done: 0,
      trials: total,
      left: left(first.epochs_done),
    });

    let failure: string | undefined;
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const s = sweepStatus(coordinator.scheduler, sweep, false);
        const finished =
          s.trials_total - (s.trials_by_state['pending'] ?? 0) - (s.trials_by_state['leased'] ?? 0);
        bar.update(s.epochs_done, { done: finished, left: left(s.epochs_done) });
        if (registry.isDone(sweepId) || io.signal.aborted) {
          clearInterval(tick);
          done();
        } else if (pool.alive === 0) {
          failure = `every worker process exited; see ${logFile}`;
          clearInterval(tick);
          done();
        }
      }, 200);
    });
    bar.stop();
    await pool.stop();
    await http?.close();
    await coordinator.shutdown();
    const status = sweepStatus(coordinator.scheduler, sweep, true);
    await store.close();

    if (failure !== undefined) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-15).join('\n');
      throw new PhasesweepError('INTERNAL', `${failure}\n${tail}`);
    }
    if (values.json) io.stdout.write(JSON.stringify(status) + '\n');
    else io.stdout.write(summaryTable(status) + `\nprobe events: ${storePath}\n`);
    if (io.signal.aborted) return EXIT.interrupted;
    return status.state === 'failed' ? EXIT.failure : EXIT.ok;
  },
};
export default command;
