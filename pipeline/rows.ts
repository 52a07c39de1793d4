// Events as table rows: the one mapping from the wire messages to the store columns, shared by
// the ClickHouse sink and the embedded store. Pure.
import type { ProbeEvent, TrialEvent } from '../proto/index.js';
import { PROBE_NAMES } from '../spec/probes.js';

export type ProbeRow = Record<string, string | number | null>;

/** Unix seconds: DateTime accepts them on every server version, unlike ISO text on 18.16. */
export function unixSeconds(timeMs: number): number {
  return Math.floor(timeMs / 1000);
}

/** Non-finite probe values are stored as null: ClickHouse JSON and Parquet disagree on NaN/∞. */
export function probeValue(v: number | undefined): number | null {
  return v === undefined || !Number.isFinite(v) ? null : v;
}

export function probeRow(e: ProbeEvent): ProbeRow {
  const row: ProbeRow = {
    sweep_id: e.sweep_id,
    trial_id: e.trial_id,
    attempt: e.attempt,
    epoch: e.epoch,
    seed: e.seed,
    time: unixSeconds(e.time_ms),
    time_ms: e.time_ms,
    engine: e.engine,
    backend: e.backend,
    worker_id: e.worker_id,
  };
  for (const p of PROBE_NAMES) row[p] = probeValue(e[p]);
  return row;
}

const STATUS_RANK: Record<string, number> = {
  leased: 1,
  running: 2,
  released: 3,
  completed: 4,
  diverged: 4,
  failed: 4,
};

/**
 * The ReplacingMergeTree version of a trial event: a later attempt always wins, and within an
 * attempt a terminal status beats `running`, whatever order the events arrive in. Derived from
 * the event, not from clocks, so replays and redeliveries give the same answer.
 */
export function trialVersion(attempt: number, status: string): number {
  return attempt * 16 + (STATUS_RANK[status] ?? 0);
}

export interface TrialRow {
  sweep_id: string;
  trial_id: string;
  sweep_name: string;
  attempt: number;
  status: string;
  version: number;
  time: number;
  time_ms: number;
  seed: number;
  config_json: string;
  axes_names: string[];
  axes_values: string[];
  engine: string;
  backend: string;
  simd: number;
  versions_names: string[];
  versions_values: string[];
  reason: string;
  worker_id: string;
  epochs: number;
}

function sortedEntries(m: Record<string, string>): [string[], string[]] {
  const keys = Object.keys(m).sort();
  return [keys, keys.map((k) => m[k] ?? '')];
}

export function trialRow(e: TrialEvent): TrialRow {
  const [axesNames, axesValues] = sortedEntries(e.axes);
  const [versionNames, versionValues] = sortedEntries(e.metadata?.versions ?? {});
  return {
    sweep_id: e.sweep_id,
    trial_id: e.trial_id,
    sweep_name: e.sweep_name,
    attempt: e.attempt,
    status: e.status,
    version: trialVersion(e.attempt, e.status),
    time: unixSeconds(e.time_ms),
    time_ms: e.time_ms,
    seed: e.seed,
    config_json: e.config_json,
    axes_names: axesNames,
    axes_values: axesValues,
    engine: e.metadata?.engine ?? '',
    backend: e.metadata?.backend ?? '',
    simd: e.metadata?.simd === true ? 1 : 0,
    versions_names: versionNames,
    versions_values: versionValues,
    reason: e.reason,
    worker_id: e.worker_id,
    epochs: e.epochs,
  };
}

/** Arrays of names and values back into a record (the Map type does not exist on 18.16). */
export function zipRecord(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    out[n] = values[i] ?? '';
  });
  return out;
}
