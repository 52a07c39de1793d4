// One epoch's probe values → the ProbeEvent message. Pure.
import type { Lease, ProbeEvent } from '../proto/index.js';
import { PROBE_NAMES, type ProbeValues } from '../spec/index.js';

export interface EventContext {
  lease: Lease;
  workerId: string;
  engine: string;
  backend: string;
}

export function toProbeEvent(
  ctx: EventContext,
  epoch: number,
  probes: ProbeValues,
  timeMs: number,
  /** User scalars of a command trainer; non-finite values are left out. */
  scalars: Readonly<Record<string, number>> = {},
): ProbeEvent {
  const trial = ctx.lease.trial!;
  const event: ProbeEvent = {
    sweep_id: trial.sweep_id,
    trial_id: trial.trial_id,
    attempt: ctx.lease.attempt,
    epoch,
    seed: trial.seed,
    time_ms: timeMs,
    engine: ctx.engine,
    backend: ctx.backend,
    worker_id: ctx.workerId,
    scalars: Object.fromEntries(Object.entries(scalars).filter(([, v]) => Number.isFinite(v))),
  };
  for (const name of PROBE_NAMES) {
    const v = probes[name];
    // Non-finite values (∞ ratios) travel as unset: null in every store.
    if (typeof v === 'number' && Number.isFinite(v)) event[name] = v;
  }
  return event;
}
