// Events as table rows: the one mapping from the wire messages to the store columns, shared by
// the ClickHouse sink and the embedded store. Pure.
import type { ProbeEvent, TrialEvent } from '../proto/index.js';
import { PROBE_NAMES } from '../spec/probes.js';

export type ProbeRow = Record<string, string | number | null | readonly string[] | readonly number[]>;

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
  const scalars = scalarColumns(Object.entries(e.scalars));
  row['scalar_names'] = scalars.names;
  row['scalar_values'] = scalars.values;
  return row;
}

const PROBE_NAME_SET: ReadonlySet<string> = new Set(PROBE_NAMES);

/**
 * Whether a name in an event's `scalars` is a user scalar that the stores keep. A probe's name
 * never is (its value has its own column, and a scalar must never shadow it), nor is the empty
 * name, nor `__proto__`, which the generated decoder's plain-object map cannot hold (so no event
 * it decodes has one, and the fast decoder drops it to agree).
 */
export function isUserScalarName(name: string): boolean {
  return name !== '' && name !== '__proto__' && !PROBE_NAME_SET.has(name);
}

/** An event's user scalars as the stores keep them: parallel arrays sorted by name. */
export interface ScalarColumns {
  readonly names: readonly string[];
  readonly values: readonly number[];
}

const NO_SCALARS: ScalarColumns = { names: [], values: [] };

/**
 * The stored form of a scalars map: user scalar names only, finite values only (no store keeps
 * NaN/∞, and parallel arrays have no null), sorted by name. For repeated names the last wins,
 * as in a protobuf map.
 */
export function scalarColumns(entries: Iterable<readonly [string, number]>): ScalarColumns {
  let byName: Map<string, number> | undefined;
  for (const [name, value] of entries) {
    byName ??= new Map();
    byName.set(name, value);
  }
  if (byName === undefined) return NO_SCALARS;
  const names = [...byName.keys()]
    .filter((n) => isUserScalarName(n) && Number.isFinite(byName.get(n)))
    .sort();
  return { names, values: names.map((n) => byName.get(n)!) };
}

/** Stored parallel arrays back into a record, keeping what scalarColumns would have kept. */
export function scalarRecord(names: unknown, values: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (!Array.isArray(names) || !Array.isArray(values)) return out;
  names.forEach((n, i) => {
    const name = String(n);
    const v: unknown = values[i];
    const x = typeof v === 'number' ? v : Number.NaN;
    if (isUserScalarName(name) && Number.isFinite(x)) out[name] = x;
  });
  return out;
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
