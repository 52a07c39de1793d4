// Fencing at the write point: once a trial's attempt N has been leased, probe events of earlier
// attempts (a paused worker waking up, a partitioned one) are not written from the epoch attempt N
// starts at: N rewrites those epochs. Events before that epoch are kept whatever their attempt,
// since nothing will rewrite them (a redelivered batch of the attempt that checkpointed there).
// Trial status events travel on the same stream as probe events, so stream order says what was
// leased first. Pure.
import type { TrialEvent } from '../proto/index.js';

interface Fence {
  attempt: number;
  /** The first epoch the attempt writes (its checkpoint's epochs; 0 from scratch). */
  fromEpoch: number;
}

export class AttemptFence {
  private readonly latest = new Map<string, Fence>();

  /** @param capacity trials remembered; the oldest are forgotten first (their late events pass). */
  constructor(private readonly capacity = 1_000_000) {}

  observe(e: TrialEvent): void {
    if (e.status !== 'leased') return;
    const key = `${e.sweep_id}\u0000${e.trial_id}`;
    const known = this.latest.get(key);
    if (known !== undefined && known.attempt >= e.attempt) return;
    this.latest.delete(key);
    // A lease's trial event carries the epoch its attempt starts at in `epochs`.
    this.latest.set(key, { attempt: e.attempt, fromEpoch: e.epochs });
    if (this.latest.size > this.capacity) this.latest.delete(this.latest.keys().next().value!);
  }

  /** The newest leased attempt of the trial (0: none known). */
  minAttempt(sweepId: string, trialId: string): number {
    return this.latest.get(`${sweepId}\u0000${trialId}`)?.attempt ?? 0;
  }

  /** The epoch from which events of attempts before minAttempt are dropped. */
  fromEpoch(sweepId: string, trialId: string): number {
    return this.latest.get(`${sweepId}\u0000${trialId}`)?.fromEpoch ?? 0;
  }

  /** Whether an event is fenced out. */
  fenced(sweepId: string, trialId: string, attempt: number, epoch: number): boolean {
    const f = this.latest.get(`${sweepId}\u0000${trialId}`);
    return f !== undefined && attempt < f.attempt && epoch >= f.fromEpoch;
  }
}
