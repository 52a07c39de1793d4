import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { Scheduler, type WorkerSession } from '../../coordinator/scheduler.js';
import { sweepStatus } from '../../coordinator/status.js';
import {
  Heartbeat,
  LeaseAction,
  TrialOutcome,
  TrialResult,
  type CoordinatorMessage,
  type TrialEvent,
} from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

function setup(seeds = 2, priority = 0, name = 's1') {
  const clock = new ManualClock();
  const events: TrialEvent[] = [];
  let n = 0;
  const scheduler = new Scheduler({
    clock,
    leaseTtlMs: 1000,
    maxFailures: 2,
    newToken: () => `tok${n++}`,
    onTrialEvent: (e) => events.push(e),
  });
  const spec = parseSweepYaml(
    `name: ${name}\nseeds: ${seeds}\npriority: ${priority}\naxes: { weight_decay: [0, 1] }`,
  );
  return { clock, events, scheduler, spec, planned: expandSweep(spec) };
}

function worker(id: string): WorkerSession & { inbox: CoordinatorMessage[] } {
  const inbox: CoordinatorMessage[] = [];
  return { workerId: id, wanted: 0, inbox, send: (m) => inbox.push(m) };
}

describe('scheduler', () => {
  it('leases each trial once, round-robin, and completes it with the right token only', () => {
    const { scheduler, spec, planned, events } = setup();
    expect(scheduler.submit(spec, planned)).toEqual({ sweepId: 's1', total: 4, added: 0 + 4 });
    expect(scheduler.submit(spec, planned).added).toBe(0);
    const a = worker('a');
    const b = worker('b');
    scheduler.attach(a);
    scheduler.attach(b);
    scheduler.request('a', 1);
    scheduler.request('b', 1);
    const la = a.inbox[0]!.lease!;
    const lb = b.inbox[0]!.lease!;
    expect(la.trial!.trial_id).not.toBe(lb.trial!.trial_id);
    expect(la.attempt).toBe(1);
    // b cannot complete a's lease, nor can a stale token complete anything.
    expect(
      scheduler.result(
        'b',
        TrialResult.fromPartial({
          trial_id: la.trial!.trial_id,
          token: la.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
          epochs: 3,
          reason: '',
        }),
      ),
    ).toBe(false);
    expect(
      scheduler.result(
        'a',
        TrialResult.fromPartial({
          trial_id: la.trial!.trial_id,
          token: 'forged',
          outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
          epochs: 3,
          reason: '',
        }),
      ),
    ).toBe(false);
    expect(
      scheduler.result(
        'a',
        TrialResult.fromPartial({
          trial_id: la.trial!.trial_id,
          token: la.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
          epochs: 3,
          reason: '',
        }),
      ),
    ).toBe(true);
    // Twice is once.
    expect(
      scheduler.result(
        'a',
        TrialResult.fromPartial({
          trial_id: la.trial!.trial_id,
          token: la.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
          epochs: 3,
          reason: '',
        }),
      ),
    ).toBe(false);
    expect(scheduler.registry.countByState('s1')).toMatchObject({ completed: 1, leased: 1, pending: 2 });
    expect(events.map((e) => e.status)).toEqual(['leased', 'leased', 'completed']);
  });

  it('re-leases a trial whose worker missed its heartbeats, with attempt+1, and fences the old token', () => {
    const { scheduler, spec, planned, clock } = setup(1);
    scheduler.submit(spec, planned);
    const a = worker('a');
    scheduler.attach(a);
    scheduler.request('a', 1);
    const lease = a.inbox[0]!.lease!;
    clock.advance(600);
    expect(
      scheduler.heartbeat(
        'a',
        Heartbeat.fromPartial({
          leases: [{ trial_id: lease.trial!.trial_id, token: lease.token, epoch: 2, checkpoint_ref: '' }],
        }),
      ).directives[0]!.action,
    ).toBe(LeaseAction.LEASE_ACTION_CONTINUE);
    clock.advance(900);
    expect(scheduler.expireLeases()).toHaveLength(0); // renewed at 600, expires at 1600
    clock.advance(200);
    expect(scheduler.expireLeases()).toHaveLength(1);
    const b = worker('b');
    scheduler.attach(b);
    scheduler.request('b', 2);
    const again = b.inbox.map((m) => m.lease!).find((l) => l.trial!.trial_id === lease.trial!.trial_id)!;
    expect(again.attempt).toBe(2);
    // The paused worker comes back: its heartbeat says lease lost, its result and events are refused.
    expect(
      scheduler.heartbeat(
        'a',
        Heartbeat.fromPartial({
          leases: [{ trial_id: lease.trial!.trial_id, token: lease.token, epoch: 3, checkpoint_ref: '' }],
        }),
      ).directives[0]!.action,
    ).toBe(LeaseAction.LEASE_ACTION_LEASE_LOST);
    expect(
      scheduler.result(
        'a',
        TrialResult.fromPartial({
          trial_id: lease.trial!.trial_id,
          token: lease.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
          epochs: 3,
          reason: '',
        }),
      ),
    ).toBe(false);
    const ev = {
      sweep_id: 's1',
      trial_id: lease.trial!.trial_id,
      attempt: 1,
      epoch: 4,
      seed: 0,
      time_ms: 0,
      engine: '',
      backend: '',
      worker_id: 'a',
      scalars: {},
    };
    expect(scheduler.acceptEvents('a', [ev])).toHaveLength(0);
    // Attempt 2 starts at epoch 0 (no checkpoint): its first event is epoch 0's.
    expect(scheduler.acceptEvents('b', [{ ...ev, epoch: 0, attempt: 2, worker_id: 'b' }])).toHaveLength(1);
  });

  it('fails a trial after the failure limit, and treats divergence as a result', () => {
    const { scheduler, spec, planned } = setup(1);
    scheduler.submit(spec, planned);
    const a = worker('a');
    scheduler.attach(a);
    const fail = (i: number) => {
      scheduler.request('a', 1);
      const l = a.inbox[i]!.lease!;
      scheduler.result(
        'a',
        TrialResult.fromPartial({
          trial_id: l.trial!.trial_id,
          token: l.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
          epochs: 0,
          reason: 'boom',
        }),
      );
      return l;
    };
    const l0 = fail(0);
    scheduler.request('a', 1);
    const l1 = a.inbox[1]!.lease!;
    expect(l1.trial!.trial_id).toBe(l0.trial!.trial_id); // retried first, plan order
    scheduler.result(
      'a',
      TrialResult.fromPartial({
        trial_id: l1.trial!.trial_id,
        token: l1.token,
        outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
        epochs: 0,
        reason: 'boom',
      }),
    );
    expect(scheduler.registry.trial('s1', l0.trial!.trial_id)!.state).toBe('failed');
    scheduler.request('a', 1);
    const l2 = a.inbox[2]!.lease!;
    scheduler.result(
      'a',
      TrialResult.fromPartial({
        trial_id: l2.trial!.trial_id,
        token: l2.token,
        outcome: TrialOutcome.TRIAL_OUTCOME_DIVERGED,
        epochs: 2,
        reason: 'loss is NaN',
      }),
    );
    expect(scheduler.registry.trial('s1', l2.trial!.trial_id)!.state).toBe('diverged');
    expect(scheduler.registry.isDone('s1')).toBe(true);
  });

  it('re-leases a released trial at once without counting a failure', () => {
    const { scheduler, spec, planned } = setup(1);
    scheduler.submit(spec, planned);
    const a = worker('a');
    scheduler.attach(a);
    scheduler.request('a', 1);
    const l = a.inbox[0]!.lease!;
    scheduler.result(
      'a',
      TrialResult.fromPartial({
        trial_id: l.trial!.trial_id,
        token: l.token,
        outcome: TrialOutcome.TRIAL_OUTCOME_RELEASED,
        epochs: 1,
        reason: 'shutdown',
      }),
    );
    const t = scheduler.registry.trial('s1', l.trial!.trial_id)!;
    expect(t.state).toBe('pending');
    expect(t.failures).toBe(0);
  });

  it('serves higher-priority sweeps first and shares equal ones fairly', () => {
    const low = setup(2, 0, 'low');
    const { scheduler } = low;
    scheduler.submit(low.spec, low.planned);
    const hi = parseSweepYaml(`name: high\nseeds: 1\npriority: 5`);
    scheduler.submit(hi, expandSweep(hi));
    const a = worker('a');
    scheduler.attach(a);
    scheduler.request('a', 1);
    expect(a.inbox[0]!.lease!.trial!.sweep_id).toBe('high');
    const other = parseSweepYaml(`name: other\nseeds: 2`);
    scheduler.submit(other, expandSweep(other));
    scheduler.request('a', 2);
    const sweeps = a.inbox.slice(1).map((m) => m.lease!.trial!.sweep_id);
    expect(sweeps.sort()).toEqual(['low', 'other']);
  });

  it('quarantines a worker that keeps failing trials, and leases to the others', () => {
    const clock = new ManualClock();
    const quarantined: string[] = [];
    let n = 0;
    const scheduler = new Scheduler({
      clock,
      leaseTtlMs: 1000,
      maxFailures: 10,
      quarantineAfter: 3,
      newToken: () => `q${n++}`,
      onQuarantine: (id) => quarantined.push(id),
    });
    const spec = parseSweepYaml('name: q\nseeds: 6');
    scheduler.submit(spec, expandSweep(spec));
    const bad = worker('bad');
    scheduler.attach(bad);
    for (let i = 0; i < 3; i++) {
      scheduler.request('bad', 1);
      const l = bad.inbox[i]!.lease!;
      scheduler.result(
        'bad',
        TrialResult.fromPartial({
          trial_id: l.trial!.trial_id,
          token: l.token,
          outcome: TrialOutcome.TRIAL_OUTCOME_FAILED,
          epochs: 0,
          reason: 'CUDA error',
        }),
      );
    }
    expect(quarantined).toEqual(['bad']);
    scheduler.request('bad', 1);
    expect(bad.inbox).toHaveLength(3); // no more leases for it
    const good = worker('good');
    scheduler.attach(good);
    scheduler.request('good', 1);
    expect(good.inbox[0]!.lease).toBeDefined();
    // Its failures were crashes, not results: the trials wait for another worker.
    expect(scheduler.registry.countByState('q')).toMatchObject({ failed: 0, leased: 1 });
  });

  it('counts progress in epochs: finished trials in full, cancelled ones as far as they got', () => {
    const { scheduler, spec, planned } = setup(2); // 2 levels × 2 seeds
    scheduler.submit(spec, planned);
    const a = worker('a');
    scheduler.attach(a);
    scheduler.request('a', 1);
    const l = a.inbox[0]!.lease!;
    scheduler.heartbeat(
      'a',
      Heartbeat.fromPartial({
        leases: [{ trial_id: l.trial!.trial_id, token: l.token, epoch: 7, checkpoint_ref: '' }],
      }),
    );
    scheduler.cancel('s1');
    const sweep = scheduler.registry.get('s1')!;
    const epochs = planned[0]!.config.train.epochs;
    expect(sweepStatus(scheduler, sweep, false)).toMatchObject({
      epochs_done: 7,
      epochs_total: 4 * epochs,
      state: 'cancelled',
    });
    scheduler.result(
      'a',
      TrialResult.fromPartial({
        trial_id: l.trial!.trial_id,
        token: l.token,
        outcome: TrialOutcome.TRIAL_OUTCOME_COMPLETED,
        epochs,
        reason: '',
      }),
    );
    expect(sweepStatus(scheduler, sweep, false).epochs_done).toBe(epochs);
  });
});
