// A failed trial's reason and the last lines of its trainer's output, as run and status print them.
import { describe, expect, it } from 'vitest';
import { failureDetails } from '../../cli/failures.js';
import { summaryTable } from '../../cli/summary.js';
import { SweepStatus, TrialStatus } from '../../proto/index.js';

const failed = TrialStatus.fromPartial({
  trial_id: 't1',
  axes: { weight_decay: '0.1' },
  state: 'failed',
  attempt: 3,
  reason: 'trial t1 epoch 4: the trainer exited with status 1',
  log_tail: Array.from({ length: 14 }, (_, i) => `line ${i}`).join('\n') + '\n',
});

describe('failure details', () => {
  it('names the trial, its axes, the reason and the last ten output lines', () => {
    const text = failureDetails([failed, TrialStatus.fromPartial({ trial_id: 't2', state: 'completed' })]);
    expect(text).toContain(
      'failed: trial t1 (weight_decay=0.1), attempt 3: trial t1 epoch 4: the trainer exited',
    );
    expect(text).toContain('    | line 13');
    expect(text).toContain('    | line 4');
    expect(text).not.toContain('line 3\n');
    expect(text).not.toContain('t2');
  });

  it('is empty without failures, and part of the run summary with them', () => {
    expect(failureDetails([])).toBe('');
    const s = SweepStatus.fromPartial({
      sweep_id: 's',
      state: 'failed',
      trials: [failed],
      trials_by_state: { failed: 1 },
    });
    expect(summaryTable(s)).toContain('last output:');
  });
});
