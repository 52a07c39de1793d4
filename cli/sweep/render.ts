// Human output for sweep status.
import type { SweepStatus } from '../../proto/index.js';
import { failureDetails } from '../failures.js';
import { fmt, table } from '../format.js';

export function counts(s: SweepStatus): string {
  return Object.entries(s.trials_by_state)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

export function renderStatus(s: SweepStatus): string {
  const head = `sweep ${s.sweep_id}: ${s.state} — ${s.trials_total} trials (${counts(s)}); epochs ${s.epochs_done}/${s.epochs_total}\n`;
  if (s.trials.length === 0) return head;
  const rows = s.trials.map((t) => [
    t.trial_id,
    t.seed,
    Object.entries(t.axes)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
    t.state,
    t.attempt,
    t.epoch,
    fmt(t.final_loss),
    fmt(t.final_val_acc),
    t.reason,
  ]);
  return (
    head +
    '\n' +
    table(['trial', 'seed', 'axes', 'state', 'attempt', 'epoch', 'loss', 'val_acc', 'reason'], rows) +
    failureDetails(s.trials)
  );
}
