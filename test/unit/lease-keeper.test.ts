// The worker's lease rules without a socket: what it holds and starts, how long each lease is
// surely its own, what heartbeats say and replies change, how many leases it asks for, and the
// reconnect backoff, on a manual clock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { HeartbeatReply, Lease, LeaseAction } from '../../proto/index.js';
import {
  LeaseKeeper,
  ReconnectBackoff,
  trainerKind,
  type LeaseKeeperOptions,
} from '../../worker/lease-keeper.js';

const COMMAND = JSON.stringify({ trainer: { command: ['python3', 'train.py'] } });

function lease(token: string, o: { ttl?: number; devices?: string[]; config?: string; ckpt?: string } = {}) {
  return Lease.fromPartial({
    trial: { sweep_id: 's', trial_id: `t-${token}`, config_json: o.config ?? '{}' },
    attempt: 1,
    token,
    ttl_ms: o.ttl ?? 1000,
    checkpoint_ref: o.ckpt ?? '',
    checkpoint_epochs: o.ckpt ? 5 : 0,
    devices: o.devices ?? [],
  });
}

const reply = (...d: [string, LeaseAction][]) =>
  HeartbeatReply.fromPartial({
    directives: d.map(([token, action]) => ({ trial_id: `t-${token}`, token, action })),
  });
const {
  LEASE_ACTION_CONTINUE: CONTINUE,
  LEASE_ACTION_CANCEL: CANCEL,
  LEASE_ACTION_LEASE_LOST: LOST,
} = LeaseAction;

function setup(o: Partial<LeaseKeeperOptions> = {}) {
  const clock = new ManualClock(10_000);
  return { clock, keeper: new LeaseKeeper({ clock, ...o }) };
}

const tokens = (attempts: { lease: Lease }[]) => attempts.map((a) => a.lease.token);

describe('lease keeper: holding and starting', () => {
  it('runs one lease at a time by default and queues the rest in arrival order', () => {
    const { keeper } = setup({ prefetch: 1 });
    expect(keeper.received(lease('a'))).toBe('kept');
    expect(keeper.received(lease('b'))).toBe('kept');
    const started = keeper.startable();
    expect(tokens(started)).toEqual(['a']);
    expect(started[0]).toMatchObject({ epoch: 0, kind: 'builtin', devices: [] });
    expect(keeper.startable()).toEqual([]);
    expect(keeper.queued().map((l) => l.token)).toEqual(['b']);
    keeper.finished('a');
    expect(tokens(keeper.startable())).toEqual(['b']);
    expect(keeper.size).toBe(1);
    expect(keeper.received(lease('b'))).toBe('kept'); // delivered twice: still the one attempt
    expect(keeper.running()).toHaveLength(1);
    expect(keeper.startable()).toEqual([]);
  });

  it('resumes an attempt from the checkpoint its lease names', () => {
    const { keeper } = setup();
    keeper.received(lease('a', { ckpt: 'ckpt-a', devices: ['cuda:1'] }));
    expect(keeper.startable()[0]).toMatchObject({
      checkpointRef: 'ckpt-a',
      checkpointEpochs: 5,
      devices: ['cuda:1'],
    });
  });

  it('runs up to `slots` command-trainer trials at once', () => {
    const { keeper } = setup({ slots: 3, prefetch: 0 });
    for (const t of ['a', 'b', 'c', 'd']) keeper.received(lease(t, { config: COMMAND }));
    expect(tokens(keeper.startable())).toEqual(['a', 'b', 'c']);
    keeper.finished('b');
    expect(tokens(keeper.startable())).toEqual(['d']);
    expect(tokens(keeper.running())).toEqual(['a', 'c', 'd']);
  });

  it('runs built-in-engine trials one at a time unless builtinSlots says more, beside command trials', () => {
    const { keeper } = setup({ slots: 3, prefetch: 0 });
    keeper.received(lease('b1'));
    keeper.received(lease('b2'));
    keeper.received(lease('c1', { config: COMMAND }));
    expect(tokens(keeper.startable())).toEqual(['b1', 'c1']);
    keeper.finished('b1');
    expect(tokens(keeper.startable())).toEqual(['b2']);

    const two = setup({ slots: 3, builtinSlots: 2, prefetch: 0 }).keeper;
    for (const t of ['b1', 'b2', 'b3']) two.received(lease(t));
    expect(tokens(two.startable())).toEqual(['b1', 'b2']);
  });

  it('starts a lease only while each of its GPUs has fewer than trialsPerGpu trials here', () => {
    const { keeper } = setup({ slots: 4, prefetch: 0 });
    keeper.received(lease('a', { devices: ['cuda:0'], config: COMMAND }));
    keeper.received(lease('b', { devices: ['cuda:0'], config: COMMAND }));
    keeper.received(lease('c', { devices: ['cuda:1'], config: COMMAND }));
    expect(tokens(keeper.startable())).toEqual(['a', 'c']);
    keeper.finished('a');
    expect(tokens(keeper.startable())).toEqual(['b']);

    const shared = setup({ slots: 4, trialsPerGpu: 2, prefetch: 0 }).keeper;
    for (const t of ['a', 'b', 'c']) shared.received(lease(t, { devices: ['cuda:0'], config: COMMAND }));
    expect(tokens(shared.startable())).toEqual(['a', 'b']);
  });

  it('reads the trainer kind from the trial config, defensively', () => {
    expect(trainerKind(lease('a', { config: COMMAND }))).toBe('command');
    expect(trainerKind(lease('a', { config: '{"trainer":"builtin"}' }))).toBe('builtin');
    expect(trainerKind(lease('a', { config: '{}' }))).toBe('builtin');
    expect(trainerKind(lease('a', { config: 'not json' }))).toBe('builtin');
    expect(trainerKind(lease('a', { config: '{"trainer":null}' }))).toBe('builtin');
  });

  it('rejects impossible options', () => {
    const clock = new ManualClock();
    expect(() => new LeaseKeeper({ clock, slots: 0 })).toThrow(/slots/);
    expect(() => new LeaseKeeper({ clock, trialsPerGpu: 1.5 })).toThrow(/trialsPerGpu/);
    expect(() => new LeaseKeeper({ clock, prefetch: -1 })).toThrow(/prefetch/);
  });
});

describe('lease keeper: how many leases to ask for', () => {
  it("'auto' prefetches one only once trials are seen to take under 30 s", () => {
    const { keeper, clock } = setup();
    expect(keeper.request()).toBe(1); // trial length unknown: no prefetch
    expect(keeper.request()).toBeUndefined(); // already asked
    keeper.received(lease('a'));
    keeper.startable();
    expect(keeper.request()).toBeUndefined();
    clock.advance(29_000);
    keeper.finished('a');
    expect(keeper.request()).toBe(2); // one to run, one ready
    keeper.received(lease('b'));
    keeper.received(lease('c'));
    keeper.startable();
    clock.advance(31_000);
    keeper.finished('b');
    keeper.startable(); // c runs
    expect(keeper.request()).toBeUndefined(); // long trials: no prefetch
  });

  it('asks for the total still wanted (the coordinator replaces its count), from zero on a new session', () => {
    const { keeper } = setup({ prefetch: 2 });
    expect(keeper.request()).toBe(3);
    keeper.received(lease('a'));
    expect(keeper.request()).toBeUndefined(); // 1 held + 2 outstanding
    keeper.connected(); // a new stream: the old session's count is gone
    expect(keeper.request()).toBe(2);
  });

  it('asks to fill every slot for command trainers, but only builtinSlots while built-in trials come', () => {
    const { keeper } = setup({ slots: 4, prefetch: 0 });
    expect(keeper.request()).toBe(1); // until a command-trainer lease shows up
    keeper.received(lease('a', { config: COMMAND }));
    expect(keeper.request()).toBe(3);
    for (const t of ['b', 'c', 'd']) keeper.received(lease(t, { config: COMMAND }));
    expect(keeper.startable()).toHaveLength(4);
    keeper.finished('a');
    expect(keeper.request()).toBe(1);
    keeper.received(lease('e')); // built-in: no more beyond builtinSlots
    keeper.finished('b');
    keeper.finished('c');
    expect(keeper.request()).toBeUndefined();
  });
});

describe('lease keeper: validity, heartbeats and replies', () => {
  it('holds a lease valid for 0.9 × TTL from arrival, then from each confirmed heartbeat send time', () => {
    const { keeper, clock } = setup();
    const t0 = clock.now();
    keeper.received(lease('a', { ttl: 1000 }));
    keeper.startable();
    expect(keeper.validUntil('a')).toBe(t0 + 900);
    clock.advance(800);
    keeper.heartbeatSent(); // sent at +800
    clock.advance(150); // +950: past the window, the reply is not in yet
    expect(keeper.confirmation('a')).toBe('unconfirmed');
    keeper.replied(reply(['a', CONTINUE]));
    expect(keeper.validUntil('a')).toBe(t0 + 1700);
    expect(keeper.confirmation('a')).toBe('confirmed');
  });

  it('matches replies to heartbeats in order, never shortens a lease, and forgets heartbeats of a closed stream', () => {
    const { keeper, clock } = setup();
    const t0 = clock.now();
    keeper.received(lease('a', { ttl: 1000 }));
    keeper.received(lease('q', { ttl: 1000 }));
    keeper.startable();
    clock.advance(100);
    keeper.heartbeatSent();
    clock.advance(400);
    keeper.heartbeatSent();
    keeper.replied(reply(['a', CONTINUE], ['q', CONTINUE]));
    expect(keeper.validUntil('a')).toBe(t0 + 1000);
    expect(keeper.validUntil('q')).toBe(t0 + 1000); // queued leases are kept alive too
    keeper.replied(reply(['a', CONTINUE]));
    expect(keeper.validUntil('a')).toBe(t0 + 1400);
    keeper.heartbeatSent();
    keeper.disconnected();
    clock.advance(10_000);
    keeper.replied(reply(['a', CONTINUE])); // no heartbeat it can answer
    expect(keeper.validUntil('a')).toBe(t0 + 1400);
  });

  it('reports running leases with their progress first, then queued ones', () => {
    const { keeper } = setup({ prefetch: 1 });
    keeper.received(lease('a'));
    keeper.received(lease('b', { ckpt: 'ckpt-b' }));
    const [a] = keeper.startable();
    a!.epoch = 7;
    a!.checkpointRef = 'ckpt-a-e5';
    a!.checkpointEpochs = 6;
    expect(keeper.progress()).toEqual([
      { trial_id: 't-a', token: 'a', epoch: 7, checkpoint_ref: 'ckpt-a-e5', checkpoint_epochs: 6 },
      { trial_id: 't-b', token: 'b', epoch: 0, checkpoint_ref: 'ckpt-b', checkpoint_epochs: 5 },
    ]);
  });

  it('aborts a cancelled or lost running attempt (once per reason) and drops such a queued lease', () => {
    const { keeper } = setup({ prefetch: 1 });
    keeper.received(lease('a'));
    keeper.received(lease('b'));
    const [a] = keeper.startable();
    keeper.heartbeatSent();
    const aborted = keeper.replied(reply(['a', CANCEL], ['b', LOST]));
    expect(tokens(aborted)).toEqual(['a']);
    expect(a!.abort.signal.aborted).toBe(true);
    expect(a!.abortReason).toBe('cancel');
    expect(keeper.queued()).toEqual([]);
    expect(keeper.confirmation('a')).toBe('denied');
    expect(keeper.replied(reply(['a', CANCEL]))).toEqual([]);
    expect(tokens(keeper.replied(reply(['a', LOST])))).toEqual(['a']);
    expect(a!.abortReason).toBe('lease_lost');
    expect(keeper.size).toBe(1); // still held until its attempt ends
    keeper.finished('a');
    expect(keeper.confirmation('a')).toBe('denied');
  });

  it('ignores directives for leases it does not hold', () => {
    const { keeper } = setup();
    keeper.received(lease('a'));
    keeper.startable();
    expect(keeper.replied(reply(['zzz', LOST]))).toEqual([]);
    expect(keeper.confirmation('a')).toBe('confirmed');
  });
});

describe('lease keeper: draining', () => {
  it('hands back queued leases, aborts running ones for shutdown, and takes nothing more', () => {
    const { keeper, clock } = setup({ prefetch: 1 });
    keeper.received(lease('a'));
    keeper.received(lease('b'));
    const [a] = keeper.startable();
    const { release, aborted } = keeper.drain();
    expect(release.map((l) => l.token)).toEqual(['b']);
    expect(tokens(aborted)).toEqual(['a']);
    expect(a!.abortReason).toBe('shutdown');
    expect(keeper.draining).toBe(true);
    clock.advance(5_000);
    // A shut-down attempt may still publish its last events and hand-over checkpoint.
    expect(keeper.confirmation('a')).toBe('confirmed');
    expect(keeper.received(lease('c'))).toBe('release');
    expect(keeper.request()).toBeUndefined();
    keeper.finished('a');
    expect(keeper.startable()).toEqual([]);
    expect(keeper.size).toBe(0);
  });
});

describe('reconnect backoff', () => {
  it('without jitter, doubles from 100 ms to the cap and starts over after 5 s connected', () => {
    const b = new ReconnectBackoff({ maxMs: 1_000, jitter: 0 });
    expect([0, 0, 0, 0, 0, 0].map(() => b.next(10))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.next(5_001)).toBe(100);
    expect(b.next(5_000)).toBe(200);
  });

  it('takes a random share (up to half by default) off each wait', () => {
    const draws = [0, 0.5, 0.999];
    const b = new ReconnectBackoff({ random: () => draws.shift()! });
    expect([b.next(0), b.next(0), b.next(0)]).toEqual([100, 150, 200]);
    const spread = new Set(Array.from({ length: 50 }, () => new ReconnectBackoff().next(0)));
    expect(spread.size).toBeGreaterThan(5);
    for (const ms of spread) expect(ms).toBeGreaterThanOrEqual(50);
  });

  it('never waits longer than the cap, even before the first doubling', () => {
    const b = new ReconnectBackoff({ maxMs: 50, jitter: 0 });
    expect([b.next(0), b.next(0)]).toEqual([50, 50]);
  });
});
