// What a worker decides about its leases, as pure state: which it holds (running and queued),
// until when each is surely still its own, what a heartbeat reports and what a reply changes, how
// many leases to ask for, and how long to wait before reconnecting. No I/O: time is a Clock and
// jitter an RNG, so every rule is unit-tested; the agent does the sending and the training.
import { LeaseAction, type HeartbeatReply, type Lease, type LeaseProgress } from '../proto/index.js';
import type { Attempt } from './trial-attempt.js';

export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
}

/** The share of the TTL a confirmed heartbeat vouches for: the rest is margin for clock drift and latency. */
export const LEASE_VALID_FRACTION = 0.9;
/** 'auto' prefetch holds one lease ready while trials take less than this. */
export const AUTO_PREFETCH_BELOW_MS = 30_000;

export type AbortReason = 'shutdown' | 'cancel' | 'lease_lost';
/** Who trains a trial: the built-in tfjs engine (in this process), or the user's command. */
export type TrainerKind = 'builtin' | 'command';

export interface KeptAttempt extends Attempt {
  readonly kind: TrainerKind;
  /** Why it was aborted: decides the result sent (released, or nothing for a lost lease). */
  abortReason?: AbortReason;
}

/** Whether an event of a running attempt may be published now. */
export type Confirmation = 'confirmed' | 'unconfirmed' | 'denied';

export interface LeaseKeeperOptions {
  clock: Clock;
  /** Trials run at once (default 1). */
  slots?: number;
  /**
   * Built-in-engine trials run at once (default 1: tfjs trains on this process's one thread).
   * While the leases coming in are for the built-in engine, the keeper asks for only this many.
   */
  builtinSlots?: number;
  /** Trials that may share one GPU (default 1): a lease waits while its devices are that busy here. */
  trialsPerGpu?: number;
  /**
   * Leases held ready beyond the running ones, so the next trial starts without a round trip:
   * a number, or 'auto' (one while trials take under 30 s, where the round trip would show;
   * none for longer trials, so a queued trial never waits behind a long one). Default 'auto'.
   */
  prefetch?: number | 'auto';
}

interface Held {
  readonly lease: Lease;
  readonly kind: TrainerKind;
  /**
   * Until when (clock ms) the lease is surely still ours: the send time of the last confirmed
   * heartbeat plus 0.9 × TTL (from its arrival until the first). Past it (a paused or
   * partitioned worker), nothing is published until the coordinator confirms the lease again.
   */
  validUntil: number;
  /** Set once it runs. */
  attempt?: KeptAttempt;
  startedAt?: number;
}

export class LeaseKeeper {
  private readonly clock: Clock;
  private readonly slots: number;
  private readonly builtinSlots: number;
  private readonly trialsPerGpu: number;
  private readonly prefetch: number | 'auto';
  /** Every lease held, in arrival order (queued ones start in this order). */
  private readonly held = new Map<string, Held>();
  /** Leases asked for and not yet received (the coordinator's `wanted` for this session). */
  private outstanding = 0;
  /** Send times of heartbeats awaiting a reply, oldest first (replies come in order). */
  private sent: number[] = [];
  private lastTrialMs = Number.POSITIVE_INFINITY;
  /** The trainer of the latest lease received: built-in trials get only `builtinSlots`. */
  private lastKind: TrainerKind = 'builtin';
  private stopping = false;

  constructor(o: LeaseKeeperOptions) {
    this.clock = o.clock;
    this.slots = positive('slots', o.slots ?? 1);
    this.builtinSlots = positive('builtinSlots', o.builtinSlots ?? 1);
    this.trialsPerGpu = positive('trialsPerGpu', o.trialsPerGpu ?? 1);
    const prefetch = o.prefetch ?? 'auto';
    if (prefetch !== 'auto' && !(Number.isInteger(prefetch) && prefetch >= 0))
      throw new RangeError(`prefetch must be 'auto' or an integer ≥ 0, got ${prefetch}`);
    this.prefetch = prefetch;
  }

  /** Leases held, running or queued. */
  get size(): number {
    return this.held.size;
  }

  get draining(): boolean {
    return this.stopping;
  }

  /** The attempts running now, in start order. */
  running(): KeptAttempt[] {
    const out: KeptAttempt[] = [];
    for (const h of this.held.values()) if (h.attempt !== undefined) out.push(h.attempt);
    return out;
  }

  /** The leases waiting for a slot, in the order they will start. */
  queued(): Lease[] {
    const out: Lease[] = [];
    for (const h of this.held.values()) if (h.attempt === undefined) out.push(h.lease);
    return out;
  }

  // ---- the stream ----

  /** A new session was welcomed: it starts with nothing asked for and no heartbeat unanswered. */
  connected(): void {
    this.outstanding = 0;
    this.sent = [];
  }

  /** The stream closed: replies to heartbeats sent on it will never come. */
  disconnected(): void {
    this.sent = [];
  }

  // ---- leases ----

  /** A lease arrived. 'release' when the worker is stopping: hand it back unstarted. */
  received(lease: Lease): 'kept' | 'release' {
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (this.stopping) return 'release';
    if (this.held.has(lease.token)) return 'kept'; // the same lease twice: it is held already
    const kind = trainerKind(lease);
    this.lastKind = kind;
    this.held.set(lease.token, {
      lease,
      kind,
      validUntil: this.clock.now() + LEASE_VALID_FRACTION * lease.ttl_ms,
    });
    return 'kept';
  }

  /**
   * Starts the queued leases that can run now, oldest first: a slot is free, a built-in trial
   * finds a built-in slot free, and each of its devices has fewer than `trialsPerGpu` trials
   * here. Returns the attempts to train.
   */
  startable(): KeptAttempt[] {
    if (this.stopping) return [];
    const started: KeptAttempt[] = [];
    let running = 0;
    let builtin = 0;
    const onDevice = new Map<string, number>();
    for (const h of this.held.values()) {
      if (h.attempt === undefined) continue;
      running++;
      if (h.kind === 'builtin') builtin++;
      for (const d of h.lease.devices) onDevice.set(d, (onDevice.get(d) ?? 0) + 1);
    }
    for (const h of this.held.values()) {
      if (running >= this.slots) break;
      if (h.attempt !== undefined) continue;
      if (h.kind === 'builtin' && builtin >= this.builtinSlots) continue;
      if (h.lease.devices.some((d) => (onDevice.get(d) ?? 0) >= this.trialsPerGpu)) continue;
      h.attempt = {
        lease: h.lease,
        kind: h.kind,
        epoch: 0,
        checkpointRef: h.lease.checkpoint_ref,
        checkpointEpochs: h.lease.checkpoint_epochs,
        devices: [...h.lease.devices],
        abort: new AbortController(),
      };
      h.startedAt = this.clock.now();
      running++;
      if (h.kind === 'builtin') builtin++;
      for (const d of h.lease.devices) onDevice.set(d, (onDevice.get(d) ?? 0) + 1);
      started.push(h.attempt);
    }
    return started;
  }

  /** The attempt of this lease ended (its result is sent, or deliberately not): the lease is no longer held. */
  finished(token: string): void {
    const h = this.held.get(token);
    if (h === undefined) return;
    this.held.delete(token);
    if (h.startedAt !== undefined) this.lastTrialMs = this.clock.now() - h.startedAt;
  }

  /**
   * The count for a LeaseRequest when more leases are wanted (undefined: ask for none): enough
   * to fill every slot plus the prefetch, counting the leases held and those already asked for.
   * The count is the total outstanding, as the coordinator's `wanted` is replaced, not added to.
   */
  request(): number | undefined {
    if (this.stopping) return undefined;
    const prefetch =
      this.prefetch === 'auto' ? (this.lastTrialMs < AUTO_PREFETCH_BELOW_MS ? 1 : 0) : this.prefetch;
    const capacity = this.lastKind === 'builtin' ? Math.min(this.slots, this.builtinSlots) : this.slots;
    const want = capacity + prefetch - this.held.size - this.outstanding;
    if (want <= 0) return undefined;
    this.outstanding += want;
    return this.outstanding;
  }

  // ---- heartbeats ----

  /** What a heartbeat reports: every lease held, running ones (with their progress) first. */
  progress(): LeaseProgress[] {
    const running: LeaseProgress[] = [];
    const queued: LeaseProgress[] = [];
    for (const h of this.held.values()) {
      const trial_id = h.lease.trial?.trial_id ?? '';
      const a = h.attempt;
      if (a !== undefined)
        running.push({
          trial_id,
          token: h.lease.token,
          epoch: a.epoch,
          checkpoint_ref: a.checkpointRef,
          checkpoint_epochs: a.checkpointEpochs,
        });
      else
        queued.push({
          trial_id,
          token: h.lease.token,
          epoch: 0,
          checkpoint_ref: h.lease.checkpoint_ref,
          checkpoint_epochs: h.lease.checkpoint_epochs,
        });
    }
    return [...running, ...queued];
  }

  /** The heartbeat from progress() went out on a live stream now. */
  heartbeatSent(): void {
    this.sent.push(this.clock.now());
  }

  /**
   * A heartbeat reply: CONTINUE extends a lease to the heartbeat's send time + 0.9 × TTL; CANCEL
   * and LEASE_LOST drop a queued lease (it never started) and abort a running attempt. Returns
   * the attempts whose abort reason this reply set or changed.
   */
  replied(reply: HeartbeatReply): KeptAttempt[] {
    const sentAt = this.sent.shift();
    const aborted: KeptAttempt[] = [];
    for (const d of reply.directives) {
      const h = this.held.get(d.token);
      if (h === undefined) continue;
      const reason =
        d.action === LeaseAction.LEASE_ACTION_CANCEL
          ? 'cancel'
          : d.action === LeaseAction.LEASE_ACTION_LEASE_LOST
            ? 'lease_lost'
            : undefined;
      if (reason === undefined) {
        if (d.action === LeaseAction.LEASE_ACTION_CONTINUE && sentAt !== undefined)
          h.validUntil = Math.max(h.validUntil, sentAt + LEASE_VALID_FRACTION * h.lease.ttl_ms);
        continue;
      }
      const a = h.attempt;
      if (a === undefined) {
        this.held.delete(d.token);
        continue;
      }
      if (a.abortReason === reason) continue;
      a.abortReason = reason;
      a.abort.abort(new Error(reason));
      aborted.push(a);
    }
    return aborted;
  }

  /**
   * Whether a running attempt may publish now: 'denied' once it was aborted for any reason but
   * shutdown (the lease is gone or cancelled), 'unconfirmed' past its validity window (the
   * agent heartbeats and waits), else 'confirmed'. A lease not held is denied.
   */
  confirmation(token: string): Confirmation {
    const h = this.held.get(token);
    const a = h?.attempt;
    if (h === undefined || a === undefined) return 'denied';
    if (a.abort.signal.aborted) return a.abortReason === 'shutdown' ? 'confirmed' : 'denied';
    return this.clock.now() > h.validUntil ? 'unconfirmed' : 'confirmed';
  }

  /** When this lease stops being surely ours (clock ms); undefined when not held. */
  validUntil(token: string): number | undefined {
    return this.held.get(token)?.validUntil;
  }

  // ---- stopping ----

  /**
   * Stops taking work: returns the queued leases to hand back (forgotten here) and aborts the
   * running attempts with reason 'shutdown'; later leases are handed back as they come.
   */
  drain(): { release: Lease[]; aborted: KeptAttempt[] } {
    this.stopping = true;
    const release: Lease[] = [];
    const aborted: KeptAttempt[] = [];
    for (const [token, h] of this.held) {
      if (h.attempt === undefined) {
        release.push(h.lease);
        this.held.delete(token);
      } else if (!h.attempt.abort.signal.aborted) {
        h.attempt.abortReason = 'shutdown';
        h.attempt.abort.abort(new Error('worker shutting down'));
        aborted.push(h.attempt);
      }
    }
    return { release, aborted };
  }
}

/**
 * The trainer a lease's trial config names: `trainer: { command: [...] }` is a command trainer;
 * absent, `builtin` or anything unreadable is the built-in engine (which then reports the error).
 */
export function trainerKind(lease: Lease): TrainerKind {
  try {
    const config = JSON.parse(lease.trial?.config_json ?? '{}') as { trainer?: unknown };
    const t = config.trainer;
    return typeof t === 'object' && t !== null && 'command' in t ? 'command' : 'builtin';
  } catch {
    return 'builtin';
  }
}

export interface ReconnectBackoffOptions {
  /** First wait (default 100 ms). */
  initialMs?: number;
  /** Longest wait (default 5 s). */
  maxMs?: number;
  /** A stream up at least this long starts the schedule over (default 5 s). */
  resetAfterMs?: number;
  /**
   * Fraction of each wait taken off at random (default 0.5: a wait lies in [½, 1] of the
   * doubling schedule), so workers cut off together do not reconnect in lockstep. 0: none.
   */
  jitter?: number;
  /** Uniform in [0, 1) (default Math.random). */
  random?: () => number;
}

/** Waits between reconnect attempts: doubling from `initialMs` to `maxMs`, jittered. */
export class ReconnectBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private nextMs: number;

  constructor(o: ReconnectBackoffOptions = {}) {
    this.maxMs = o.maxMs ?? 5_000;
    this.initialMs = Math.min(o.initialMs ?? 100, this.maxMs);
    this.resetAfterMs = o.resetAfterMs ?? 5_000;
    this.jitter = Math.min(1, Math.max(0, o.jitter ?? 0.5));
    this.random = o.random ?? Math.random;
    this.nextMs = this.initialMs;
  }

  /** The wait before reconnecting, given how long the stream that just closed was up. */
  next(upForMs: number): number {
    if (upForMs > this.resetAfterMs) this.nextMs = this.initialMs;
    const base = this.nextMs;
    this.nextMs = Math.min(base * 2, this.maxMs);
    return Math.round(base * (1 - this.jitter * this.random()));
  }
}

function positive(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${n}`);
  return n;
}
