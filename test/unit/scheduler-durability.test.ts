// The scheduler's side of "nothing lost": for a worker streaming its events through the
// coordinator, a checkpoint is accepted only once the events it covers are stored, a gap in the
// stream re-runs the attempt from its last good checkpoint, and so does a completion whose events
// did not all reach the store.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { Scheduler, type WorkerSession } from '../../coordinator/scheduler.js';
import {
  LeaseAction,
  LeaseProgress,
  ProbeEvent,
  TrialOutcome,
  TrialResult,
  type CoordinatorMessage,
  type Lease,
  type TrialEvent,
} from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

function setup(eventsViaCoordinator = true) {
  const events: TrialEvent[] = [];
  let n = 0;
  const scheduler = new Scheduler({
    clock: new ManualClock(),
    leaseTtlMs: 1000,
    newToken: () => `tok${n++}`,
    onTrialEvent: (e) => events.push(e),
  });
  const spec = parseSweepYaml(`name: s\nseeds: 1\nbase: { train: { epochs: 10 } }`);
  scheduler.submit(spec, expandSweep(spec));
  const inbox: CoordinatorMessage[] = [];
  const session: WorkerSession = {
    workerId: 'w',
    wanted: 0,
    send: (m) => inbox.push(m),
    eventsViaCoordinator,
  };
  scheduler.attach(session);
  scheduler.request('w', 1);
  const lease = inbox[0]!.lease!;
  const trial = () => [...scheduler.registry.get(lease.trial!.sweep_id)!.trials.values()][0]!;
  return { scheduler, lease, trial, events, inbox };
}

const event = (l: Lease, epoch: number) =>
  ProbeEvent.fromPartial({
    sweep_id: l.trial!.sweep_id,
    trial_id: l.trial!.trial_id,
    attempt: l.attempt,
    epoch,
    worker_id: 'w',
  });
const progress = (l: Lease, epochs: number) =>
  LeaseProgress.fromPartial({
    trial_id: l.trial!.trial_id,
    token: l.token,
    epoch: epochs,
    checkpoint_ref: `ck-${epochs}`,
    checkpoint_epochs: epochs,
  });
const result = (l: Lease, outcome: TrialOutcome, epochs: number) =>
  TrialResult.fromPartial({ trial_id: l.trial!.trial_id, token: l.token, outcome, epochs });

describe('scheduler durability', () => {
  it('accepts a checkpoint only when the events it covers are stored', () => {
    const { scheduler, lease, trial } = setup();
    const evs = [0, 1, 2].map((e) => event(lease, e));
    expect(scheduler.acceptEvents('w', evs)).toHaveLength(3);
    expect(scheduler.offerCheckpoint('w', progress(lease, 3))).toBe(false);
    scheduler.eventsStored(evs.slice(0, 2));
    expect(scheduler.offerCheckpoint('w', progress(lease, 3))).toBe(false);
    expect(scheduler.offerCheckpoint('w', progress(lease, 2))).toBe(true);
    scheduler.eventsStored(evs);
    expect(scheduler.offerCheckpoint('w', progress(lease, 3))).toBe(true);
    expect(trial().checkpointEpochs).toBe(3);
    // An older checkpoint never replaces a newer one.
    expect(scheduler.offerCheckpoint('w', { ...progress(lease, 2), checkpoint_ref: 'old' })).toBe(false);
  });

  it('trusts the worker for checkpoints when its events go to NATS (it waits for the acks)', () => {
    const { scheduler, lease, trial } = setup(false);
    expect(scheduler.offerCheckpoint('w', progress(lease, 5))).toBe(true);
    expect(trial().checkpointRef).toBe('ck-5');
  });

  it('re-leases from the last good checkpoint when streamed events arrive with a gap', () => {
    const { scheduler, lease, trial, events } = setup();
    const first = [0, 1].map((e) => event(lease, e));
    scheduler.acceptEvents('w', first);
    scheduler.eventsStored(first);
    expect(scheduler.offerCheckpoint('w', progress(lease, 2))).toBe(true);
    // Epochs 2 and 3 were lost on a broken stream; 4 arrives.
    expect(scheduler.acceptEvents('w', [event(lease, 4)])).toHaveLength(0);
    expect(trial().state).toBe('pending');
    expect(events.at(-1)?.status).toBe('released');
    expect(events.at(-1)?.reason).toMatch(/lost in transit/);
    const reply = scheduler.heartbeat('w', { leases: [progress(lease, 5)] });
    expect(reply.directives[0]!.action).toBe(LeaseAction.LEASE_ACTION_LEASE_LOST);
    expect(trial().checkpointEpochs).toBe(2);
    expect(trial().failures).toBe(0);
  });

  it('does not complete a trial whose streamed events did not all reach the store', () => {
    const { scheduler, lease, trial } = setup();
    const evs = Array.from({ length: 10 }, (_, e) => event(lease, e));
    scheduler.acceptEvents('w', evs);
    scheduler.eventsStored(evs.slice(0, 9));
    scheduler.eventsLost(evs.slice(9));
    expect(trial().state).toBe('pending');
    expect(scheduler.result('w', result(lease, TrialOutcome.TRIAL_OUTCOME_COMPLETED, 10))).toBe(false);
  });

  it('completes a trial once all its events are stored', () => {
    const { scheduler, lease, trial } = setup();
    const evs = Array.from({ length: 10 }, (_, e) => event(lease, e));
    scheduler.acceptEvents('w', evs);
    scheduler.eventsStored(evs);
    expect(scheduler.result('w', result(lease, TrialOutcome.TRIAL_OUTCOME_COMPLETED, 10))).toBe(true);
    expect(trial().state).toBe('completed');
  });

  it('re-runs a completion that reached the coordinator ahead of its events', () => {
    const { scheduler, lease, trial } = setup();
    const evs = Array.from({ length: 8 }, (_, e) => event(lease, e));
    scheduler.acceptEvents('w', evs);
    scheduler.eventsStored(evs);
    expect(scheduler.result('w', result(lease, TrialOutcome.TRIAL_OUTCOME_COMPLETED, 10))).toBe(true);
    expect(trial().state).toBe('pending');
  });
});
