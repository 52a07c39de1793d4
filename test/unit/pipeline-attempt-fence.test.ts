import { describe, expect, it } from 'vitest';
import { AttemptFence } from '../../pipeline/attempt-fence.js';
import type { ProbeEvent, TrialEvent } from '../../proto/index.js';

const probe = (trial: string, attempt: number) =>
  ({ sweep_id: 's', trial_id: trial, attempt, epoch: 0 }) as ProbeEvent;
const leased = (trial: string, attempt: number) =>
  ({ sweep_id: 's', trial_id: trial, attempt, status: 'leased' }) as TrialEvent;

describe('attempt fence', () => {
  it('drops probe events of attempts older than the latest lease, per trial', () => {
    const f = new AttemptFence();
    expect(f.admits(probe('a', 1))).toBe(true); // unknown trial: nothing to fence against
    f.observe(leased('a', 2));
    expect(f.admits(probe('a', 1))).toBe(false);
    expect(f.admits(probe('a', 2))).toBe(true);
    expect(f.admits(probe('b', 1))).toBe(true);
    f.observe(leased('a', 1)); // an older lease seen late never lowers the fence
    expect(f.admits(probe('a', 1))).toBe(false);
    f.observe({ ...leased('a', 3), status: 'completed' });
    expect(f.admits(probe('a', 2))).toBe(true);
  });

  it('forgets the oldest trials beyond its capacity', () => {
    const f = new AttemptFence(2);
    f.observe(leased('a', 2));
    f.observe(leased('b', 2));
    f.observe(leased('c', 2));
    expect(f.admits(probe('a', 1))).toBe(true);
    expect(f.admits(probe('c', 1))).toBe(false);
  });
});
