// Lease bookkeeping: who holds which trial attempt, under which fencing token, until when.
// Pure (clock and token source are arguments); the gateway turns its answers into messages.
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';

export interface LeaseRecord {
  readonly sweepId: string;
  readonly trialId: string;
  readonly attempt: number;
  readonly token: string;
  readonly workerId: string;
  expiresAt: number;
}

export type TokenSource = () => string;
export const randomToken: TokenSource = () => randomBytes(12).toString('base64url');

export class LeaseTable {
  private readonly byToken = new Map<string, LeaseRecord>();
  private readonly byTrial = new Map<string, LeaseRecord>();

  constructor(
    private readonly clock: Clock,
    readonly ttlMs: number,
    private readonly newToken: TokenSource = randomToken,
  ) {}

  get size(): number {
    return this.byToken.size;
  }

  grant(sweepId: string, trialId: string, attempt: number, workerId: string): LeaseRecord {
    const key = trialKey(sweepId, trialId);
    if (this.byTrial.has(key)) throw new Error(`trial ${key} is already leased`);
    const lease: LeaseRecord = {
      sweepId,
      trialId,
      attempt,
      token: this.newToken(),
      workerId,
      expiresAt: this.clock.now() + this.ttlMs,
    };
    this.byToken.set(lease.token, lease);
    this.byTrial.set(key, lease);
    return lease;
  }

  /** Re-creates a persisted lease after a restart, with a fresh TTL. */
  adopt(sweepId: string, trialId: string, attempt: number, token: string, workerId: string): LeaseRecord {
    const lease: LeaseRecord = {
      sweepId,
      trialId,
      attempt,
      token,
      workerId,
      expiresAt: this.clock.now() + this.ttlMs,
    };
    this.byToken.set(token, lease);
    this.byTrial.set(trialKey(sweepId, trialId), lease);
    return lease;
  }

  /** The live lease for this token, or undefined when the token is stale (fencing). */
  get(token: string): LeaseRecord | undefined {
    return this.byToken.get(token);
  }

  forTrial(sweepId: string, trialId: string): LeaseRecord | undefined {
    return this.byTrial.get(trialKey(sweepId, trialId));
  }

  /** Extends a live lease held by `workerId`; undefined when the token is stale or not theirs. */
  renew(token: string, workerId: string): LeaseRecord | undefined {
    const lease = this.byToken.get(token);
    if (lease === undefined || lease.workerId !== workerId) return undefined;
    lease.expiresAt = this.clock.now() + this.ttlMs;
    return lease;
  }

  /** Ends a lease (completion, release, cancel). Fenced: a stale token releases nothing. */
  release(token: string): LeaseRecord | undefined {
    const lease = this.byToken.get(token);
    if (lease === undefined) return undefined;
    this.byToken.delete(token);
    this.byTrial.delete(trialKey(lease.sweepId, lease.trialId));
    return lease;
  }

  /** Removes and returns every lease whose TTL has passed. */
  takeExpired(): LeaseRecord[] {
    const now = this.clock.now();
    const expired = [...this.byToken.values()].filter((l) => l.expiresAt <= now);
    for (const l of expired) this.release(l.token);
    return expired;
  }
}

export function trialKey(sweepId: string, trialId: string): string {
  return `${sweepId}/${trialId}`;
}
