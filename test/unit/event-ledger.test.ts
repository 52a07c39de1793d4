// The coordinator's ledger of stored events per attempt: a checkpoint covers only stored events,
// a gap or reordering breaks the attempt, sparse probe schedules and resumes start where they should.
import { describe, expect, it } from 'vitest';
import { EventLedger, nextEventEpoch } from '../../coordinator/event-ledger.js';

describe('event ledger', () => {
  it('finds the next epoch with an event on sparse schedules, the last epoch always included', () => {
    const s = { every: 10, last: 95 };
    expect(nextEventEpoch(0, s)).toBe(0);
    expect(nextEventEpoch(1, s)).toBe(10);
    expect(nextEventEpoch(90, s)).toBe(90);
    expect(nextEventEpoch(91, s)).toBe(95);
    expect(nextEventEpoch(96, s)).toBe(96);
    expect(nextEventEpoch(3, { every: 1, last: 9 })).toBe(3);
  });

  it('covers a checkpoint only once every event before it is stored', () => {
    const l = new EventLedger();
    l.open('t', 0, { every: 1, last: 9 });
    expect(l.covers('t', 0)).toBe(true);
    for (const e of [0, 1, 2]) expect(l.arrived('t', e)).toBe(true);
    expect(l.covers('t', 1)).toBe(false); // arrived, not stored
    l.stored('t', 1);
    expect(l.covers('t', 2)).toBe(true);
    expect(l.covers('t', 3)).toBe(false);
    l.stored('t', 2);
    expect(l.covers('t', 3)).toBe(true);
    // Stored beyond what arrived cannot be claimed.
    l.stored('t', 7);
    expect(l.covers('t', 4)).toBe(false);
  });

  it('breaks an attempt whose events arrive with a gap, for good', () => {
    const l = new EventLedger();
    l.open('t', 0, { every: 1, last: 9 });
    expect(l.arrived('t', 0)).toBe(true);
    l.stored('t', 0);
    expect(l.arrived('t', 2)).toBe(false);
    expect(l.isBroken('t')).toBe(true);
    expect(l.arrived('t', 1)).toBe(false);
    expect(l.covers('t', 1)).toBe(false);
  });

  it('starts a resumed attempt at its checkpoint and follows sparse schedules', () => {
    const l = new EventLedger();
    l.open('t', 25, { every: 10, last: 49 });
    expect(l.covers('t', 30)).toBe(true); // no event is due in 25..29
    expect(l.arrived('t', 25)).toBe(false); // 25 is not a probe epoch
    l.open('u', 25, { every: 10, last: 49 });
    expect(l.arrived('u', 30)).toBe(true);
    expect(l.covers('u', 31)).toBe(false);
    l.stored('u', 30);
    expect(l.covers('u', 40)).toBe(true);
    expect(l.arrived('u', 40)).toBe(true);
    expect(l.arrived('u', 49)).toBe(true);
    l.stored('u', 49);
    expect(l.covers('u', 50)).toBe(true);
  });

  it('refuses everything once a write is lost, and forgets closed attempts', () => {
    const l = new EventLedger();
    l.open('t', 0, { every: 1, last: 3 });
    l.arrived('t', 0);
    l.lost('t');
    l.stored('t', 0);
    expect(l.covers('t', 1)).toBe(false);
    l.close('t');
    expect(l.isBroken('t')).toBe(false);
    expect(l.covers('t', 0)).toBe(false);
  });
});
