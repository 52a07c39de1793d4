// How big a sweep is, and the size above which `run` and `sweep submit` ask before starting it:
// a typo in `seeds` or `epochs` should cost a question, not a cluster-week. Pure.
import type { PlannedTrial } from '../spec/index.js';
import { trialEpochs } from '../spec/index.js';

/** Above either, starting the sweep needs a confirmation (`--yes`, or "y" at the prompt). */
export const CONFIRM_ABOVE = { trials: 10_000, trialEpochs: 10_000_000 } as const;

export interface SweepSize {
  trials: number;
  trialEpochs: number;
}

export function sweepSize(trials: readonly PlannedTrial[]): SweepSize {
  return { trials: trials.length, trialEpochs: trials.reduce((n, t) => n + trialEpochs(t.config), 0) };
}

/** Why this size needs a confirmation, or undefined when it does not. */
export function confirmationReason(size: SweepSize): string | undefined {
  const over: string[] = [];
  if (size.trials > CONFIRM_ABOVE.trials)
    over.push(
      `${size.trials.toLocaleString('en-US')} trials (more than ${CONFIRM_ABOVE.trials.toLocaleString('en-US')})`,
    );
  if (size.trialEpochs > CONFIRM_ABOVE.trialEpochs)
    over.push(
      `${size.trialEpochs.toLocaleString('en-US')} trial-epochs (more than ${CONFIRM_ABOVE.trialEpochs.toLocaleString('en-US')})`,
    );
  return over.length === 0 ? undefined : over.join(' and ');
}

/** "3m 05s left" style durations for progress lines; never NaN or Infinity. */
export function remainingText(done: number, total: number, startDone: number, elapsedMs: number): string {
  const rate = (done - startDone) / (elapsedMs / 1000);
  if (done >= total) return '0s';
  if (!Number.isFinite(rate) || rate <= 0) return 'estimating';
  const s = (total - done) / rate;
  if (!Number.isFinite(s) || s > 100 * 86_400) return 'more than 100 days';
  return formatSeconds(s);
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${two(h)}h`;
  if (h > 0) return `${h}h ${two(m)}m`;
  if (m > 0) return `${m}m ${two(sec)}s`;
  return `${sec}s`;
}
