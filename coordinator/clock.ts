// Time as an argument: the coordinator measures lease TTLs on a monotonic clock, and tests
// drive a manual one.
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps with wall-clock changes). */
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
