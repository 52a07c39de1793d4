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

  it('forgets the oldest trials beyond its capacity', () => {
    const f = new AttemptFence(2);
    f.observe(leased('a', 2));
    f.observe(leased('b', 2));
    f.observe(leased('c', 2));
    expect(f.minAttempt('s', 'a')).toBe(0);
    expect(f.minAttempt('s', 'c')).toBe(2);
  });
});
