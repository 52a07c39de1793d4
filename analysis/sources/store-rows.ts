// Stored probe rows and trial records (the DuckDB store, ClickHouse, an exported Parquet pair)
// into analysis rows. Pure: every store reader ends here, so they all agree on what a row is.
import { isUserScalarName } from '../../pipeline/index.js';
import { PROBE_NAMES } from '../../spec/probes.js';
import type { AnalysisRow, AxisValue } from '../trials.js';

/** One stored (trial, epoch): the latest attempt, as the stores' latest-row queries return it. */
export interface StoredProbeRow {
  trial_id: string;
  seed: number;
  epoch: number;
  probes: Record<string, number | null>;
  /** The trainer's own scalars by name (the stores' scalar_names/scalar_values). */
  scalars?: Record<string, number>;
}

/** The latest state of a trial; axis values are JSON texts, as the scheduler writes them. */
export interface StoredTrial {
  trial_id: string;
  status: string;
  axes: Record<string, string>;
}

export interface StoreRows {
  rows: AnalysisRow[];
  warnings: string[];
}

/**
 * A stored axis value back into the value the sweep spec named. Values are JSON texts; text
 * that is not JSON (an older writer, a hand-made store) stays a string rather than failing, and
 * a JSON object or array (never a valid axis level) keeps its text so it still groups.
 */
export function decodeAxisValue(text: string): AxisValue {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return text;
  }
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return text;
}

function decodeAxes(axes: Record<string, string>): Record<string, AxisValue> {
  const out: Record<string, AxisValue> = {};
  for (const name of Object.keys(axes).sort()) out[name] = decodeAxisValue(axes[name]!);
  return out;
}

const FINISHED = new Set(['completed', 'diverged', 'failed']);

function listSome(ids: readonly string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}

/** User scalar names any row reports, sorted; never a probe's name (a scalar cannot shadow one). */
function scalarNames(probeRows: readonly StoredProbeRow[]): string[] {
  const names = new Set<string>();
  for (const r of probeRows) {
    if (r.scalars === undefined) continue;
    for (const name of Object.keys(r.scalars)) if (isUserScalarName(name)) names.add(name);
  }
  return [...names].sort();
}

/**
 * Joins probe rows to their trials' axes. User scalars become probe series under their names,
 * as CSV columns would (null in the epochs that did not report them); a scalar named like a
 * probe is left out, so the probe always means the probe. A probe that is null in every row of
 * the sweep was not computed (cluster_purity on modular addition, say) and is left out, exactly
 * as a CSV without that column would be. Rows of a trial without a trial record cannot be
 * placed on any axis level and are dropped with a warning; unfinished trials are kept (their
 * series end early and read as censored there) with a warning, since a reader should know the
 * sweep is still going.
 */
export function joinStoreRows(
  probeRows: readonly StoredProbeRow[],
  trials: readonly StoredTrial[],
  label: string,
): StoreRows {
  const byId = new Map(trials.map((t) => [t.trial_id, { status: t.status, axes: decodeAxes(t.axes) }]));
  const present = PROBE_NAMES.filter((p) => probeRows.some((r) => r.probes[p] != null));
  const scalars = scalarNames(probeRows);
  const orphans = new Set<string>();
  const withRows = new Set<string>();
  const rows: AnalysisRow[] = [];
  for (const r of probeRows) {
    const trial = byId.get(r.trial_id);
    if (trial === undefined) {
      orphans.add(r.trial_id);
      continue;
    }
    withRows.add(r.trial_id);
    const probes: Record<string, number | null> = {};
    for (const p of present) {
      const v = r.probes[p];
      probes[p] = v === undefined || v === null || !Number.isFinite(v) ? null : v;
    }
    for (const name of scalars) {
      const v = r.scalars?.[name];
      probes[name] = v === undefined || !Number.isFinite(v) ? null : v;
    }
    rows.push({ trial_id: r.trial_id, seed: r.seed, epoch: r.epoch, axes: { ...trial.axes }, probes });
  }
  const warnings: string[] = [];
  if (orphans.size > 0) {
    warnings.push(
      `${label}: ${orphans.size} trial(s) have probe events but no trial record, left out: ${listSome([...orphans])}`,
    );
  }
  const unfinished = trials.filter((t) => withRows.has(t.trial_id) && !FINISHED.has(t.status));
  if (unfinished.length > 0) {
    warnings.push(
      `${label}: ${unfinished.length} trial(s) have not finished (${listSome(unfinished.map((t) => `${t.trial_id} ${t.status}`))}); their series end early and events after their last epoch read as censored`,
    );
  }
  const empty = trials.filter((t) => !withRows.has(t.trial_id)).length;
  if (empty > 0) warnings.push(`${label}: ${empty} trial(s) have no probe events yet, left out`);
  return { rows, warnings };
}
