// What a failed trial said: its reason and the last lines its command trainer printed, for the
// end of `run`, `sweep status` and `sweep watch`.
import type { TrialStatus } from '../proto/index.js';

const TAIL_LINES = 10;

export function failureDetails(trials: readonly TrialStatus[]): string {
  const failed = trials.filter((t) => t.state === 'failed');
  if (failed.length === 0) return '';
  return (
    '\n' +
    failed
      .map((t) => {
        const axes = Object.entries(t.axes)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        const tail = t.log_tail
          .split('\n')
          .filter((l) => l.trim() !== '')
          .slice(-TAIL_LINES)
          .map((l) => `    | ${l}`)
          .join('\n');
        return `failed: trial ${t.trial_id}${axes ? ` (${axes})` : ''}, attempt ${t.attempt}: ${t.reason}${tail ? `\n  last output:\n${tail}` : ''}`;
      })
      .join('\n') +
    '\n'
  );
}
