// Fencing at the write point: once a trial's attempt N has been leased, probe events of earlier
// attempts (a paused worker waking up, a partitioned one) are not written. Trial status events
// travel on the same stream as probe events, so stream order says what was leased first. Pure.
import type { TrialEvent } from '../proto/index.js';

export class AttemptFence {
  private readonly latest = new Map<string, number>();

  /** @param capacity trials remembered; the oldest are forgotten first (their late events pass). */
  constructor(private readonly capacity = 1_000_000) {}

  observe(e: TrialEvent): void {
    if (e.status !== 'leased') return;
    const key = `${e.sweep_id}\u0000${e.trial_id}`;
    const known = this.latest.get(key);
    if (known !== undefined && known >= e.attempt) return;
    this.latest.delete(key);
    this.latest.set(key, e.attempt);
    if (this.latest.size > this.capacity) this.latest.delete(this.latest.keys().next().value!);
  }

  /** The oldest attempt of the trial whose probe events are still written (0: any). */
  minAttempt(sweepId: string, trialId: string): number {
    return this.latest.get(`${sweepId}\u0000${trialId}`) ?? 0;
  }
}
