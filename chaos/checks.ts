// The end-of-run checks over what the stores hold: every trial completed exactly once, one row
// per (trial, epoch), resumed trials' series equal to uninterrupted references, and the
// coordinator's counters equal to the store's. Collecting needs the servers; judging does not.
import type { SweepStatus } from '../proto/index.js';
import type { ChaosCluster } from './cluster.js';
import type { EmbeddedWaveResult } from './embedded.js';
import type { ReferenceRunner } from './reference.js';
import { ChaosRng } from './rng.js';
import { ClickHouseReader, readDuckDb, trialEvents, type StoredTrial } from './stores.js';
import type { Wave } from './sweeps.js';
import {
  compareSeries,
  completionProblems,
  counterProblems,
  epochRanges,
  metricValue,
  tallyRows,
  type CounterCheck,
  type StoredRow,
  type TrialState,
} from './verdict.js';

/** What one wave left behind, read back from the coordinator and the stores. */
export interface WaveData {
  wave: Wave;
  /** The coordinator's last word on its trials (undefined: it never answered). */
  status: SweepStatus | undefined;
  /** The coordinator's Prometheus gauges for the sweep (cluster only). */
  gauges: { completed: number | undefined; epochs: number | undefined } | undefined;
  storedTrials: StoredTrial[];
  rows: StoredRow[];
  /** Attempts that reached completed/diverged, per trial, from the status events (cluster only). */
  finishedAttempts: Map<string, Set<number>> | undefined;
  /** Each trial's status events in stream order, "status#attempt@worker", for failure messages. */
  history: Map<string, string[]>;
}

export async function collectCluster(
  cluster: ChaosCluster,
  waves: readonly Wave[],
  statuses: ReadonlyMap<string, SweepStatus | undefined>,
  metrics: string | undefined,
): Promise<WaveData[]> {
  const events = await trialEvents(cluster.nats.url, cluster.prefix);
  const reader = new ClickHouseReader(cluster.clickhouse.url, cluster.database);
  try {
    const out: WaveData[] = [];
    for (const wave of waves) {
      const finished = new Map<string, Set<number>>();
      const history = new Map<string, string[]>();
      for (const e of events) {
        if (e.sweep_id !== wave.name) continue;
        const at = new Date(e.time_ms).toISOString().slice(11, 23);
        history.set(e.trial_id, [
          ...(history.get(e.trial_id) ?? []),
          `${e.status}#${e.attempt}@${e.worker_id} ${at}${e.reason ? ` (${e.reason})` : ''}`,
        ]);
        if (e.status !== 'completed' && e.status !== 'diverged') continue;
        const set = finished.get(e.trial_id) ?? new Set<number>();
        set.add(e.attempt);
        finished.set(e.trial_id, set);
      }
      const gauge = (name: string, labels: Record<string, string>) =>
        metrics === undefined ? undefined : metricValue(metrics, name, { sweep: wave.name, ...labels });
      out.push({
        wave,
        status: statuses.get(wave.name),
        gauges: {
          completed: gauge('phasesweep_sweep_trials', { state: 'completed' }),
          epochs: gauge('phasesweep_sweep_epochs_done', {}),
        },
        storedTrials: await reader.trials(wave.name),
        rows: await reader.probeRows(wave.name),
        finishedAttempts: finished,
        history,
      });
    }
    return out;
  } finally {
    await reader.close();
  }
}

export async function collectEmbedded(
  results: readonly EmbeddedWaveResult[],
  dir: string,
): Promise<WaveData[]> {
  const out: WaveData[] = [];
  for (const r of results) {
    const stored = await readDuckDb(`${dir}/${r.wave.name}.duckdb`, r.wave.name).catch(() => ({
      rows: [],
      trials: [],
    }));
    out.push({
      wave: r.wave,
      status: r.status,
      gauges: undefined,
      storedTrials: stored.trials,
      rows: stored.rows,
      finishedAttempts: undefined,
      history: new Map(),
    });
  }
  return out;
}

export interface Verdict {
  trials: number;
  rows: number;
  lost: number;
  duplicated: number;
  mismatchedSeries: number;
  resumedChecked: number;
  countersAgree: boolean;
  failures: string[];
}

export interface JudgeOptions {
  seed: number;
  references: ReferenceRunner;
  /** Time for all reference runs together; trials left unchecked past it are failures. */
  referenceBudgetMs: number;
  /** Trials that were never interrupted, compared too (per wave), as a control. */
  controlsPerWave: number;
  log: (line: string) => void;
}

const MAX_DETAILS = 12;

export async function judge(data: readonly WaveData[], o: JudgeOptions): Promise<Verdict> {
  const v: Verdict = {
    trials: 0,
    rows: 0,
    lost: 0,
    duplicated: 0,
    mismatchedSeries: 0,
    resumedChecked: 0,
    countersAgree: true,
    failures: [],
  };
  const detail = (line: string) => {
    if (v.failures.length < 200) v.failures.push(line);
  };
  const toCheck: { wave: Wave; trialId: string; rows: StoredRow[] }[] = [];
  const rng = new ChaosRng(o.seed ^ 0x5eed);
  for (const d of data) {
    const name = d.wave.name;
    const coordinator: TrialState[] = (d.status?.trials ?? []).map((t) => ({
      trialId: t.trial_id,
      state: t.state,
      attempt: t.attempt,
    }));
    if (d.status === undefined) detail(`${name}: no final status from the coordinator`);
    const problems = completionProblems(
      name,
      d.wave.trials.map((t) => t.trialId),
      coordinator,
      d.storedTrials,
      d.finishedAttempts,
    );
    for (const p of problems.slice(0, MAX_DETAILS)) {
      const trialId = /^[^/]+\/(\S+):/.exec(p)?.[1];
      const events = trialId === undefined ? undefined : d.history.get(trialId);
      detail(events === undefined ? p : `${p}: ${events.join(' → ')}`);
    }
    if (problems.length > MAX_DETAILS)
      detail(`${name}: … ${problems.length - MAX_DETAILS} more completion problems`);

    // A diverged trial ends early: it has rows up to the epoch it reached.
    const byId = new Map(coordinator.map((t) => [t.trialId, t]));
    const expected = new Map(
      d.wave.trials.map((t) => {
        const c = d.status?.trials.find((s) => s.trial_id === t.trialId);
        return [t.trialId, c?.state === 'diverged' ? c.epoch : t.config.train.epochs] as const;
      }),
    );
    const tally = tallyRows(expected, d.rows);
    v.trials += d.wave.trials.length;
    v.rows += d.rows.length;
    v.lost += tally.lost;
    v.duplicated += tally.duplicated;
    const rowsByTrial = new Map<string, StoredRow[]>();
    for (const r of d.rows) rowsByTrial.set(r.trialId, [...(rowsByTrial.get(r.trialId) ?? []), r]);
    let shown = 0;
    for (const [trialId, missing] of tally.lostEpochs) {
      if (shown++ >= MAX_DETAILS) break;
      const attempts = [...new Set((rowsByTrial.get(trialId) ?? []).map((r) => r.attempt))].join(', ');
      detail(
        `${name}/${trialId}: lost epochs ${epochRanges(missing)} (final attempt ${byId.get(trialId)?.attempt ?? '?'}; stored rows from attempts ${attempts || 'none'})`,
      );
    }
    tally.extra.slice(0, MAX_DETAILS).forEach((e) => detail(`${name}: extra row ${e}`));

    // Counters against the store.
    const storeCompleted = d.storedTrials.filter((t) => t.status === 'completed').length;
    const checks: CounterCheck[] = [
      {
        what: `${name} trials completed (status)`,
        coordinator: d.status?.trials_by_state['completed'],
        store: storeCompleted,
      },
      { what: `${name} epochs done (status)`, coordinator: d.status?.epochs_done, store: d.rows.length },
    ];
    if (d.gauges !== undefined) {
      checks.push(
        {
          what: `${name} trials completed (/metrics)`,
          coordinator: d.gauges.completed,
          store: storeCompleted,
        },
        { what: `${name} epochs done (/metrics)`, coordinator: d.gauges.epochs, store: d.rows.length },
      );
    }
    const counterIssues = counterProblems(checks);
    if (counterIssues.length > 0) v.countersAgree = false;
    counterIssues.forEach(detail);

    // Resumed trials (more than one attempt), and a few untouched ones as a control.
    const resumed = new Set<string>();
    for (const t of coordinator) if (t.attempt > 1) resumed.add(t.trialId);
    for (const r of d.rows) if (r.attempt > 1) resumed.add(r.trialId);
    const untouched = d.wave.trials.map((t) => t.trialId).filter((id) => !resumed.has(id));
    for (let i = 0; i < o.controlsPerWave && untouched.length > 0; i++)
      resumed.add(untouched.splice(rng.int(0, untouched.length - 1), 1)[0]!);
    for (const trialId of resumed)
      toCheck.push({ wave: d.wave, trialId, rows: rowsByTrial.get(trialId) ?? [] });
  }

  const deadline = Date.now() + o.referenceBudgetMs;
  o.log(`checks: comparing ${toCheck.length} trials with uninterrupted reference runs`);
  for (const [i, c] of toCheck.entries()) {
    if (Date.now() > deadline) {
      detail(
        `reference budget of ${o.referenceBudgetMs} ms spent: ${toCheck.length - i} trials not compared`,
      );
      break;
    }
    const planned = c.wave.trials.find((t) => t.trialId === c.trialId);
    if (planned === undefined) continue;
    const mismatch = compareSeries(await o.references.series(planned), c.rows);
    v.resumedChecked++;
    if (mismatch === undefined) continue;
    v.mismatchedSeries++;
    if (v.mismatchedSeries <= MAX_DETAILS)
      detail(
        `${c.wave.name}/${c.trialId}: series differs from the reference at epoch ${mismatch.epoch} ${mismatch.probe}: stored ${mismatch.got} (attempt ${mismatch.attempt}), reference ${mismatch.want}`,
      );
  }
  return v;
}
