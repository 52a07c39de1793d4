// One fault run from start to report: set up the namespace, servers and processes, train waves
// of sweeps while the seeded schedule injects faults, then stop the faults, wait (bounded) for
// every sweep and for the ingesters, read the stores back, shut down, look for orphans, judge.
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SweepStatus } from '../proto/index.js';
import { collectCluster, collectEmbedded, judge, type WaveData } from './checks.js';
import { ChaosCluster, NETNS_WORKER } from './cluster.js';
import { EmbeddedRuns } from './embedded.js';
import { inject } from './injector.js';
import { NetworkNamespace } from './netns.js';
import { findMarked, killAll } from './orphans.js';
import type { ProcessContext } from './processes.js';
import { ReferenceRunner } from './reference.js';
import { passed, type ChaosReport } from './report.js';
import {
  countByKind,
  createSchedule,
  describeFault,
  FAULT_KINDS,
  MAX_FAULT_MS,
  type Fault,
} from './schedule.js';
import { sleep } from './servers.js';
import { ingestBacklog } from './stores.js';
import { createWave, type Wave } from './sweeps.js';

export interface ChaosOptions {
  seed: number;
  durationS: number;
  workers: number;
  ingesters: number;
  /** Try network namespaces for the partition faults (false: skip that kind). */
  netns: boolean;
  /** Keep the run's directory (logs, stores) even when it passes. */
  keep: boolean;
  signal: AbortSignal;
  log: (line: string) => void;
}

const LEASE_TTL_MS = 3000;
const CHECKPOINT_EVERY = 5;
/** Top the cluster's queue up with a new wave when fewer trials than this wait. */
const REFILL_BELOW = 60;

/** Sleeps until `at` (epoch ms), or until the signal aborts. */
async function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  while (Date.now() < at && !signal.aborted) await sleep(Math.min(250, at - Date.now()));
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const runId = randomBytes(4).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `phasesweep-chaos-${runId}-`));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const startedAt = Date.now();
  const log = (line: string) => {
    const stamped = `[chaos ${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${line}`;
    o.log(stamped);
    appendFileSync(join(logDir, 'runner.log'), `${stamped}\n`);
  };
  const failures: string[] = [];
  const fail = (message: string) => {
    failures.push(message);
    log(`FAIL ${message}`);
  };
  const report: ChaosReport = {
    seed: o.seed,
    duration_s: o.durationS,
    faults_injected: {},
    trials: 0,
    rows: 0,
    lost: 0,
    duplicated: 0,
    mismatched_series: 0,
    orphans: 0,
    counters_agree: false,
    failures,
    series_compared: 0,
    faults_skipped: 0,
    kinds_unavailable: {},
    replay: `npm run chaos -- --duration ${o.durationS} --seed ${o.seed}`,
  };
  let cluster: ChaosCluster | undefined;
  let embedded: EmbeddedRuns | undefined;
  let netns: NetworkNamespace | undefined;
  const ctx: ProcessContext = {
    runId,
    logDir,
    startedAt,
    onUnexpectedExit: (e) => cluster?.supervisor.onExit(e),
  };
  const interrupted = () => {
    if (o.signal.aborted) throw new Error(`interrupted (${String(o.signal.reason)})`);
  };
  const applied: Fault[] = [];
  let data: WaveData[] = [];
  try {
    log(`run ${runId} in ${dir}; seed ${o.seed}, faults for ${o.durationS} s`);
    if (o.netns) {
      const ns = await NetworkNamespace.create(runId);
      if ('unavailable' in ns) report.kinds_unavailable['partition'] = ns.unavailable;
      else netns = ns;
    } else report.kinds_unavailable['partition'] = 'network namespaces turned off (--no-netns)';
    if (report.kinds_unavailable['partition'] !== undefined)
      log(`partition faults skipped: ${report.kinds_unavailable['partition']}`);

    cluster = await ChaosCluster.create({
      ctx,
      dir,
      workers: o.workers,
      ingesters: o.ingesters,
      netns,
      leaseTtlMs: LEASE_TTL_MS,
      checkpointEvery: CHECKPOINT_EVERY,
      log,
    });
    const c = cluster;
    await c.start();
    interrupted();
    log(
      `cluster up: coordinator ${c.coordinatorAddress}, nats ${c.nats.url}, clickhouse ${c.clickhouse.url}`,
    );
    const waves: Wave[] = [createWave(o.seed, 'cluster', 0)];
    await c.submit(waves[0]!.yaml);
    const embeddedDir = join(dir, 'embedded');
    mkdirSync(embeddedDir, { recursive: true });
    const emb = new EmbeddedRuns({ ctx, dir: embeddedDir, seed: o.seed, log, fail });
    embedded = emb;
    emb.start();

    const kinds = FAULT_KINDS.filter((k) => report.kinds_unavailable[k] === undefined);
    const schedule = createSchedule({
      seed: o.seed,
      durationMs: o.durationS * 1000,
      workers: o.workers,
      ingesters: o.ingesters,
      kinds,
      partitionTarget: netns === undefined ? undefined : NETNS_WORKER,
    });
    log(`schedule (${schedule.length} faults; replay: ${report.replay}):`);
    for (const f of schedule) log(`  ${describeFault(f)}`);

    // The fault phase: faults on schedule, new waves whenever the queue runs low.
    const t0 = Date.now();
    let phaseOver = false;
    const topUp = (async () => {
      while (!phaseOver && !o.signal.aborted) {
        await sleep(2000);
        let waiting = 0;
        for (const w of waves) {
          const s = await c.status(w.name);
          if (s === undefined) {
            waiting = Number.POSITIVE_INFINITY; // coordinator down: ask again later
            break;
          }
          waiting += (s.trials_by_state['pending'] ?? 0) + (s.trials_by_state['leased'] ?? 0);
        }
        if (waiting >= REFILL_BELOW || phaseOver) continue;
        const next = createWave(o.seed, 'cluster', waves.length);
        waves.push(next); // before submitting: a submit that timed out may still have landed
        await c.submit(next.yaml, 20_000).then(
          () => log(`submitted ${next.name} (${next.trials.length} trials)`),
          () => log(`submitting ${next.name} failed; submitted again at the end`),
        );
      }
    })();
    const tasks: Promise<void>[] = [];
    for (const f of schedule) {
      await sleepUntil(t0 + f.atMs, o.signal);
      if (o.signal.aborted) break;
      tasks.push(
        inject(f, { cluster: c, embedded: emb, netns, log }, () => applied.push(f)).then(
          (r) => {
            if (!r.injected) {
              report.faults_skipped++;
              log(`fault #${f.index} skipped: ${r.reason}`);
            }
          },
          (err: unknown) =>
            fail(`fault ${describeFault(f)}: ${err instanceof Error ? err.message : String(err)}`),
        ),
      );
    }
    await sleepUntil(t0 + o.durationS * 1000, o.signal);
    phaseOver = true;
    emb.stopWaves();
    log('fault phase over; waiting for faults to be undone');
    const undone = await Promise.race([
      Promise.all(tasks).then(() => true),
      sleep(MAX_FAULT_MS + 120_000).then(() => false),
    ]);
    if (!undone) fail('faults still in progress long after the fault phase');
    await topUp;
    interrupted();
    const notUp = await c.supervisor.settled(90_000);
    if (notUp.length > 0) fail(`not up again after the faults: ${notUp.join(', ')}`);
    // A wave whose submit timed out may or may not have landed: submitting again is idempotent.
    for (const w of waves)
      await c.submit(w.yaml, 60_000).catch(() => fail(`${w.name} could not be submitted`));

    log(`waiting for ${waves.length} cluster sweeps and the embedded run to finish`);
    const [statuses] = await Promise.all([
      waitSweeps(c, waves, 300_000, o.signal, fail),
      emb.finish(300_000).then((done) => {
        if (!done) fail('the embedded run did not finish within 300 s of the fault phase');
      }),
    ]);
    interrupted();
    log('sweeps finished; waiting for the ingesters to drain the stream');
    await waitIngested(c, 180_000, o.signal, fail);
    interrupted();
    log('stream drained; reading the stores back');
    const metrics = await c.metrics();
    if (metrics === undefined) fail('coordinator /metrics unreadable');
    data = await collectCluster(c, waves, statuses, metrics);
    await emb.close();
    data.push(...(await collectEmbedded(emb.results, embeddedDir)));
  } catch (err) {
    fail(`run stopped early: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await shutdown(cluster, embedded, netns, runId, report, fail, log);
  }
  report.faults_injected = countByKind(applied, FAULT_KINDS);
  if (data.length > 0 && !o.signal.aborted) {
    const verdict = await judge(data, {
      seed: o.seed,
      references: new ReferenceRunner(),
      referenceBudgetMs: 900_000,
      controlsPerWave: 2,
      log,
    });
    Object.assign(report, {
      trials: verdict.trials,
      rows: verdict.rows,
      lost: verdict.lost,
      duplicated: verdict.duplicated,
      mismatched_series: verdict.mismatchedSeries,
      series_compared: verdict.resumedChecked,
      counters_agree: verdict.countersAgree,
    });
    failures.push(...verdict.failures);
  }
  for (const e of cluster?.supervisor.unexpectedExits ?? [])
    failures.push(
      `${e.name} exited on its own at t=${(e.atMs / 1000).toFixed(1)}s (code ${e.code}, signal ${e.signal}): ${e.tail.trim().split('\n').slice(-3).join(' | ')}`,
    );
  if (passed(report) && !o.keep) rmSync(dir, { recursive: true, force: true });
  else report.log_dir = logDir;
  return report;
}

async function waitSweeps(
  c: ChaosCluster,
  waves: readonly Wave[],
  timeoutMs: number,
  signal: AbortSignal,
  fail: (m: string) => void,
): Promise<Map<string, SweepStatus | undefined>> {
  const deadline = Date.now() + timeoutMs;
  const last = new Map<string, SweepStatus | undefined>();
  for (const w of waves) {
    for (;;) {
      const s = await c.status(w.name);
      if (s !== undefined) last.set(w.name, s);
      if ((s !== undefined && s.state !== 'running') || Date.now() > deadline || signal.aborted) break;
      await sleep(1000);
    }
    const s = last.get(w.name);
    if (s === undefined || s.state !== 'completed')
      fail(
        `${w.name}: ${s === undefined ? 'no status' : s.state} (${JSON.stringify(s?.trials_by_state ?? {})})`,
      );
  }
  return last;
}

/** Until no event waits for an ingester (twice in a row, a second apart). */
async function waitIngested(
  c: ChaosCluster,
  timeoutMs: number,
  signal: AbortSignal,
  fail: (m: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let zeros = 0;
  let backlog = -1;
  while (Date.now() < deadline && !signal.aborted) {
    backlog = await ingestBacklog(c.nats.url, c.prefix).catch(() => -1);
    zeros = backlog === 0 ? zeros + 1 : 0;
    if (zeros >= 2) return;
    await sleep(1000);
  }
  fail(`ingest backlog not drained within ${timeoutMs} ms (last: ${backlog} messages)`);
}

/** Stops every process (graceful, then forced), finds orphans, removes the namespace. */
async function shutdown(
  cluster: ChaosCluster | undefined,
  embedded: EmbeddedRuns | undefined,
  netns: NetworkNamespace | undefined,
  runId: string,
  report: ChaosReport,
  fail: (m: string) => void,
  log: (line: string) => void,
): Promise<void> {
  try {
    await embedded?.close();
    if (cluster !== undefined) {
      const order = cluster.stopOrder();
      const servers = order.pop() ?? [];
      await cluster.supervisor.stopAll(order, 15_000);
      for (const name of order.flat()) {
        const proc = cluster.supervisor.get(name)?.proc;
        const exit = proc === undefined ? undefined : await proc.exited;
        if (exit?.signal === 'SIGKILL') fail(`${name} did not exit within 15 s of SIGTERM`);
      }
      // The servers are still up; every phasesweep process (and anything they started) must be gone.
      const serverPids = new Set(servers.map((n) => cluster.supervisor.get(n)?.proc.pid));
      const left = findMarked(runId).filter((p) => !serverPids.has(p.pid));
      await cluster.supervisor.stopAll([servers], 15_000);
      left.push(...findMarked(runId).filter((p) => !left.some((l) => l.pid === p.pid)));
      report.orphans += left.length + (embedded?.orphans.length ?? 0);
      for (const p of left) fail(`orphan process ${p.pid} after shutdown: ${p.cmdline}`);
    } else {
      report.orphans += embedded?.orphans.length ?? 0;
    }
  } catch (err) {
    fail(`shutdown: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    const killed = killAll(findMarked(runId));
    if (killed > 0) log(`killed ${killed} leftover processes`);
    await netns?.teardown();
  }
}
