// The coordinator's side of command-trainer failures: a permanent one fails the trial at once
// (no retries, no count against the worker), any failure keeps the trainer's log tail.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { Scheduler, type WorkerSession } from '../../coordinator/scheduler.js';
import { TrialOutcome, TrialResult, type CoordinatorMessage, type TrialEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

function setup() {
  const events: TrialEvent[] = [];
  const scheduler = new Scheduler({
    clock: new ManualClock(),
    leaseTtlMs: 1000,
    maxFailures: 3,
    quarantineAfter: 1,
    onTrialEvent: (e) => events.push(e),
  });
  const spec = parseSweepYaml('name: p\nseeds: 1\nbase: { trainer: { command: [nope] } }');
  scheduler.submit(spec, expandSweep(spec));
  const inbox: CoordinatorMessage[] = [];
  const session: WorkerSession = { workerId: 'w', wanted: 0, send: (m) => inbox.push(m) };
  scheduler.attach(session);
  const fail = (permanent: boolean, logTail: string) => {
    scheduler.request('w', 1);
    const lease = inbox.pop()!.lease!;
    return scheduler.result(
      'w',
      TrialResult.fromPartial({
        trial_id: lease.trial!.trial_id,
        token: lease.token,
        outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
        reason: 'boom',
        log_tail: logTail,
        permanent,
      }),
    );
  };
  return { scheduler, events, fail };
}

describe('trainer failures at the coordinator', () => {
  it('fails a trial for good on a permanent failure, without counting it against the worker', () => {
    const { scheduler, events, fail } = setup();
    expect(fail(true, 'line 1\nline 2')).toBe(true);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ status: 'failed', attempt: 1, reason: 'boom', log_tail: 'line 1\nline 2' });
    expect(scheduler.registry.countByState('p')).toMatchObject({ failed: 1, pending: 0 });
    expect(scheduler.quarantined.size).toBe(0);
  });

  it('retries an ordinary failure and keeps its log tail with the event', () => {
    const { scheduler, events, fail } = setup();
    fail(false, 'Traceback: oom');
    expect(events.at(-1)).toMatchObject({ status: 'retrying', log_tail: 'Traceback: oom' });
    expect(scheduler.registry.countByState('p')).toMatchObject({ pending: 1, failed: 0 });
    expect(scheduler.quarantined.has('w')).toBe(true);
  });
});
