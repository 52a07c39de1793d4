// The end-of-run summary: one row per axis-level combination, aggregated over seeds.
import type { SweepStatus } from '../proto/index.js';
import { failureDetails } from './failures.js';
import { fmt, table } from './format.js';

function mean(xs: number[]): number | null {
  const ok = xs.filter((x) => Number.isFinite(x));
  return ok.length === 0 ? null : ok.reduce((a, b) => a + b, 0) / ok.length;
}

export function summaryTable(s: SweepStatus): string {
  const groups = new Map<string, SweepStatus['trials']>();
  for (const t of s.trials) {
    const key = Object.entries(t.axes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const rows = [...groups.entries()].map(([key, ts]) => [
    key || '(base)',
    ts.length,
    ts.filter((t) => t.state === 'completed').length,
    ts.filter((t) => t.state === 'diverged').length,
    ts.filter((t) => t.state === 'failed').length,
    fmt(mean(ts.map((t) => t.final_loss))),
    fmt(mean(ts.map((t) => t.final_val_acc))),
  ]);
  const counts = Object.entries(s.trials_by_state)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return (
    `\nsweep ${s.sweep_id}: ${s.state} (${counts})\n\n` +
    table(['axes', 'trials', 'completed', 'diverged', 'failed', 'final loss', 'final val_acc'], rows) +
    failureDetails(s.trials)
  );
}
