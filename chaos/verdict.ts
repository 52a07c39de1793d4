// The checks' arithmetic: which expected (trial, epoch) rows are missing or extra, whether a
// stored series equals its reference bit for bit, whether every trial completed exactly once,
// and whether the coordinator's counters agree with the store. Pure.

export type ProbeRecord = Record<string, number | null>;

export interface StoredRow {
  trialId: string;
  epoch: number;
  attempt: number;
  probes: ProbeRecord;
}

/** The stores keep no NaN or ±∞ (they become NULL): compare on the same footing. */
export function normalizeProbe(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

export interface RowTally {
  /** Expected (trial, epoch) pairs with no row. */
  lost: number;
  /** Rows beyond one per expected pair: repeats, epochs past the trial's end, unknown trials. */
  duplicated: number;
  /** Missing epochs per trial. */
  lostEpochs: Map<string, number[]>;
  /** Extra rows, described. */
  extra: string[];
}

/** `expected`: epochs each trial must have a row for (0 … n-1). */
export function tallyRows(expected: ReadonlyMap<string, number>, rows: readonly StoredRow[]): RowTally {
  const seen = new Set<string>();
  const extra: string[] = [];
  for (const r of rows) {
    const epochs = expected.get(r.trialId);
    const key = `${r.trialId}:${r.epoch}`;
    if (epochs === undefined) extra.push(`${key} (trial not in the sweep)`);
    else if (r.epoch >= epochs) extra.push(`${key} (the trial has ${epochs} epochs)`);
    else if (seen.has(key)) extra.push(`${key} (attempt ${r.attempt}, a second row)`);
    else seen.add(key);
  }
  const lostEpochs = new Map<string, number[]>();
  let lost = 0;
  for (const [trialId, epochs] of expected) {
    const missing: number[] = [];
    for (let e = 0; e < epochs; e++) if (!seen.has(`${trialId}:${e}`)) missing.push(e);
    if (missing.length > 0) lostEpochs.set(trialId, missing);
    lost += missing.length;
  }
  return { lost, duplicated: extra.length, lostEpochs, extra };
}

/** "0–4, 9, 12–13": epochs as ranges, for messages. */
export function epochRanges(epochs: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < epochs.length; i++) {
    const start = epochs[i]!;
    let end = start;
    while (i + 1 < epochs.length && epochs[i + 1] === end + 1) end = epochs[++i]!;
    parts.push(start === end ? String(start) : `${start}–${end}`);
  }
  return parts.join(', ');
}

export interface SeriesMismatch {
  epoch: number;
  probe: string;
  got: number | null;
  want: number | null;
  attempt: number;
}

/**
 * The first difference between a trial's stored rows and its uninterrupted reference run, or
 * undefined when every probe value of every stored epoch is identical (missing rows are the
 * row tally's business, not this one's).
 */
export function compareSeries(
  reference: readonly ProbeRecord[],
  rows: readonly StoredRow[],
): SeriesMismatch | undefined {
  for (const r of [...rows].sort((a, b) => a.epoch - b.epoch)) {
    const want = reference[r.epoch];
    if (want === undefined) {
      return { epoch: r.epoch, probe: '(row)', got: null, want: null, attempt: r.attempt };
    }
    for (const probe of new Set([...Object.keys(want), ...Object.keys(r.probes)])) {
      const w = normalizeProbe(want[probe]);
      const g = normalizeProbe(r.probes[probe]);
      if (w !== g) return { epoch: r.epoch, probe, got: g, want: w, attempt: r.attempt };
    }
  }
  return undefined;
}

export interface TrialState {
  trialId: string;
  state: string;
  attempt: number;
}

const FINISHED = new Set(['completed', 'diverged']);

/**
 * Problems with "every trial completed exactly once": a planned trial that the coordinator or
 * the store does not show finished, a trial nobody planned, or a trial finished by more than
 * one attempt (from the status events; undefined where there is no event stream).
 */
export function completionProblems(
  sweep: string,
  planned: readonly string[],
  coordinator: readonly TrialState[],
  stored: readonly { trialId: string; status: string }[],
  finishedAttempts: ReadonlyMap<string, ReadonlySet<number>> | undefined,
): string[] {
  const problems: string[] = [];
  const byCoordinator = new Map(coordinator.map((t) => [t.trialId, t]));
  const byStore = new Map(stored.map((t) => [t.trialId, t.status]));
  const plannedSet = new Set(planned);
  for (const id of planned) {
    const c = byCoordinator.get(id);
    if (c === undefined || !FINISHED.has(c.state))
      problems.push(`${sweep}/${id}: coordinator says ${c === undefined ? 'unknown trial' : c.state}`);
    const s = byStore.get(id);
    if (s === undefined || !FINISHED.has(s))
      problems.push(`${sweep}/${id}: store says ${s ?? 'no trial row'}`);
    if (finishedAttempts !== undefined) {
      const attempts = [...(finishedAttempts.get(id) ?? [])];
      if (attempts.length !== 1)
        problems.push(
          `${sweep}/${id}: finished by ${attempts.length} attempts (${attempts.join(', ') || 'none'}) in the status events`,
        );
      else if (c !== undefined && FINISHED.has(c.state) && c.attempt !== attempts[0])
        problems.push(
          `${sweep}/${id}: finished by attempt ${attempts[0]} in the status events, ${c.attempt} in the coordinator`,
        );
    }
  }
  for (const t of coordinator)
    if (!plannedSet.has(t.trialId))
      problems.push(`${sweep}/${t.trialId}: coordinator has a trial nobody planned`);
  for (const t of stored)
    if (!plannedSet.has(t.trialId)) problems.push(`${sweep}/${t.trialId}: store has a trial nobody planned`);
  return problems;
}

/** Prometheus text → value of `name` with exactly these label values (undefined when absent). */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{\s]+(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

export interface CounterCheck {
  what: string;
  coordinator: number | undefined;
  store: number;
}

export function counterProblems(checks: readonly CounterCheck[]): string[] {
  return checks
    .filter((c) => c.coordinator !== c.store)
    .map((c) => `${c.what}: coordinator ${c.coordinator ?? 'n/a'}, store ${c.store}`);
}
