// The one JSON object a fault run prints, and whether it passed.

export interface ChaosReport {
  seed: number;
  duration_s: number;
  faults_injected: Record<string, number>;
  trials: number;
  rows: number;
  lost: number;
  duplicated: number;
  mismatched_series: number;
  orphans: number;
  counters_agree: boolean;
  failures: string[];
  /** Trials compared with a reference run (every resumed one, plus a few controls). */
  series_compared: number;
  /** Scheduled faults that found nothing to hit (the target was down), with why. */
  faults_skipped: number;
  /** Kinds that could not run here, with the reason (partition without network namespaces). */
  kinds_unavailable: Record<string, string>;
  /** The command that replays this run's schedule. */
  replay: string;
  /** Every process's output, kept when the run failed (or with --keep). */
  log_dir?: string;
}

export function passed(r: ChaosReport): boolean {
  return (
    r.failures.length === 0 &&
    r.lost === 0 &&
    r.duplicated === 0 &&
    r.mismatched_series === 0 &&
    r.orphans === 0 &&
    r.counters_agree
  );
}
