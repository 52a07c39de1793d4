// Which probe events of each live attempt are durably stored, for workers that stream their events
// through the coordinator. A checkpoint (or hand-over) is accepted only when it covers no epoch
// whose event is not yet stored, and an attempt whose events arrive with a gap (a stream broke
// with events in flight) is flagged so it is re-run from its last accepted checkpoint. Pure.

/** The epochs a trial emits events for: every `every`-th from 0, and always the last. */
export interface EventSchedule {
  every: number;
  last: number;
}

/** The first epoch ≥ `from` that has an event (last + 1 when none is left). */
export function nextEventEpoch(from: number, s: EventSchedule): number {
  if (from > s.last) return s.last + 1;
  const aligned = Math.ceil(from / s.every) * s.every;
  return Math.min(aligned, s.last);
}

interface Entry {
  readonly schedule: EventSchedule;
  /** The epoch of the next event expected on the stream. */
  expected: number;
  /** Every event for an epoch below this is stored. */
  durableThrough: number;
  /** Events arrived out of order or with a gap: nothing more of this attempt is accepted. */
  broken: boolean;
}

export class EventLedger {
  private readonly entries = new Map<string, Entry>();

  /** Starts tracking an attempt whose first event is at or after epoch `start`. */
  open(token: string, start: number, schedule: EventSchedule): void {
    const first = nextEventEpoch(start, schedule);
    this.entries.set(token, { schedule, expected: first, durableThrough: first, broken: false });
  }

  close(token: string): void {
    this.entries.delete(token);
  }

  /** An event arrived; false (and the attempt is broken from now on) when it is not the next one. */
  arrived(token: string, epoch: number): boolean {
    const e = this.entries.get(token);
    if (e === undefined || e.broken) return false;
    if (epoch !== e.expected) {
      e.broken = true;
      return false;
    }
    e.expected = nextEventEpoch(epoch + 1, e.schedule);
    return true;
  }

  /** The events up to and including `epoch` that arrived are stored. */
  stored(token: string, epoch: number): void {
    const e = this.entries.get(token);
    if (e === undefined || e.broken) return;
    e.durableThrough = Math.max(
      e.durableThrough,
      Math.min(nextEventEpoch(epoch + 1, e.schedule), e.expected),
    );
  }

  /** Storing arrived events failed: they are gone, so the attempt cannot be completed or resumed past them. */
  lost(token: string): void {
    const e = this.entries.get(token);
    if (e !== undefined) e.broken = true;
  }

  /** Whether every event of the first `epochs` epochs (from the attempt's start) is stored. */
  covers(token: string, epochs: number): boolean {
    const e = this.entries.get(token);
    return e !== undefined && !e.broken && epochs <= e.durableThrough;
  }

  isBroken(token: string): boolean {
    return this.entries.get(token)?.broken ?? false;
  }
}
