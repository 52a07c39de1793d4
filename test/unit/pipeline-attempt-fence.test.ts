import { describe, expect, it } from 'vitest';
import { AttemptFence } from '../../pipeline/attempt-fence.js';
import type { TrialEvent } from '../../proto/index.js';

const leased = (trial: string, attempt: number) =>
  ({ sweep_id: 's', trial_id: trial, attempt, status: 'leased' }) as TrialEvent;

describe('attempt fence', () => {
  it('keeps probe events of the latest leased attempt and later, per trial', () => {
    const f = new AttemptFence();
    expect(f.minAttempt('s', 'a')).toBe(0); // unknown trial: nothing to fence against
    f.observe(leased('a', 2));
    expect(f.minAttempt('s', 'a')).toBe(2);
    expect(f.minAttempt('s', 'b')).toBe(0);
    f.observe(leased('a', 1)); // an older lease seen late never lowers the fence
    expect(f.minAttempt('s', 'a')).toBe(2);
    f.observe({ ...leased('a', 3), status: 'completed' });
    expect(f.minAttempt('s', 'a')).toBe(2);
  });

  it('fences an older attempt only from the epoch the newer one starts at', () => {
    const f = new AttemptFence();
    // Attempt 2 resumes from a checkpoint covering epochs 0–29.
    f.observe({ ...leased('a', 2), epochs: 30 });
    expect(f.fromEpoch('s', 'a')).toBe(30);
    // A redelivered event of attempt 1 before the checkpoint is still needed: nothing rewrites it.
    expect(f.fenced('s', 'a', 1, 29)).toBe(false);
    expect(f.fenced('s', 'a', 1, 30)).toBe(true);
    expect(f.fenced('s', 'a', 2, 30)).toBe(false);
    expect(f.fenced('s', 'b', 1, 0)).toBe(false);
    // From scratch, every epoch of an older attempt is rewritten.
    f.observe({ ...leased('a', 3), epochs: 0 });
    expect(f.fenced('s', 'a', 2, 5)).toBe(true);
  });

  it('forgets the oldest trials beyond its capacity', () => {
    const f = new AttemptFence(2);
    f.observe(leased('a', 2));
    f.observe(leased('b', 2));
    f.observe(leased('c', 2));
    expect(f.minAttempt('s', 'a')).toBe(0);
    expect(f.minAttempt('s', 'c')).toBe(2);
  });
});
