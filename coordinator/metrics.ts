// Prometheus metrics of a coordinator: leases granted and expired, heartbeats, trial status
// events, probe events accepted or dropped, stale results, and per-sweep progress gauges read
// from the registry at scrape time. The scheduler stays free of metrics: its public entry
// points are wrapped once, after the coordinator is created.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TrialEvent } from '../proto/index.js';
import type { Coordinator } from './coordinator.js';
import { sweepStatus } from './status.js';

export interface CoordinatorMetrics {
  /** Pass as (or call from) the coordinator's `onTrialEvent`. */
  readonly onTrialEvent: (e: TrialEvent) => void;
  /** Starts counting the coordinator's scheduler calls; call once, right after create. */
  readonly observe: (coordinator: Coordinator) => void;
}

export function createCoordinatorMetrics(registry: Registry): CoordinatorMetrics {
  const registers = [registry];
  const leasesGranted = new Counter({
    name: 'phasesweep_coordinator_leases_granted_total',
    help: 'Leases handed to workers',
    registers,
  });
  const leasesExpired = new Counter({
    name: 'phasesweep_coordinator_leases_expired_total',
    help: 'Leases lost because their worker missed its heartbeats',
    registers,
  });
  const heartbeats = new Counter({
    name: 'phasesweep_coordinator_heartbeats_total',
    help: 'Heartbeats received from workers',
    registers,
  });
  const trialEvents = new Counter({
    name: 'phasesweep_coordinator_trial_events_total',
    help: 'Trial status changes, by status (leased, completed, retrying, failed, …)',
    labelNames: ['status'],
    registers,
  });
  const probeEvents = new Counter({
    name: 'phasesweep_coordinator_probe_events_total',
    help: 'Probe events streamed to the coordinator: accepted, or dropped for want of a live lease',
    labelNames: ['outcome'],
    registers,
  });
  const staleResults = new Counter({
    name: 'phasesweep_coordinator_results_rejected_total',
    help: 'Trial results rejected because their lease token was stale',
    registers,
  });
  let coordinator: Coordinator | undefined;
  new Gauge({
    name: 'phasesweep_coordinator_workers',
    help: 'Workers connected now',
    registers,
    collect() {
      this.set(coordinator?.scheduler.workers ?? 0);
    },
  });
  // One collector refreshes the three per-sweep gauges, so a scrape sees one consistent
  // snapshot; registered before them because a scrape collects in registration order.
  new Gauge({
    name: 'phasesweep_coordinator_sweeps',
    help: 'Sweeps the coordinator knows',
    registers,
    collect() {
      const scheduler = coordinator?.scheduler;
      trials.reset();
      epochsDone.reset();
      epochsPlanned.reset();
      if (scheduler === undefined) return this.set(0);
      const sweeps = scheduler.registry.list();
      this.set(sweeps.length);
      for (const sweep of sweeps) {
        const s = sweepStatus(scheduler, sweep, false);
        for (const [state, n] of Object.entries(s.trials_by_state))
          trials.set({ sweep: s.sweep_id, state }, n);
        epochsDone.set({ sweep: s.sweep_id }, s.epochs_done);
        epochsPlanned.set({ sweep: s.sweep_id }, s.epochs_total);
      }
    },
  });

  const sweepGauges = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers });
  const trials = sweepGauges('phasesweep_sweep_trials', 'Trials of each sweep by state', ['sweep', 'state']);
  const epochsDone = sweepGauges('phasesweep_sweep_epochs_done', 'Epochs trained, per sweep', ['sweep']);
  const epochsPlanned = sweepGauges('phasesweep_sweep_epochs_planned', 'Epochs planned, per sweep', [
    'sweep',
  ]);
  return {
    onTrialEvent: (e) => {
      trialEvents.inc({ status: e.status });
      if (e.status === 'leased') leasesGranted.inc();
    },
    observe: (c) => {
      if (coordinator !== undefined) throw new Error('coordinator metrics already observe a coordinator');
      coordinator = c;
      const s = c.scheduler;
      const heartbeat = s.heartbeat.bind(s);
      s.heartbeat = (workerId, hb) => {
        heartbeats.inc();
        return heartbeat(workerId, hb);
      };
      const expire = s.expireLeases.bind(s);
      s.expireLeases = () => {
        const expired = expire();
        if (expired.length > 0) leasesExpired.inc(expired.length);
        return expired;
      };
      const accept = s.acceptEvents.bind(s);
      s.acceptEvents = (workerId, events) => {
        const kept = accept(workerId, events);
        probeEvents.inc({ outcome: 'accepted' }, kept.length);
        if (kept.length < events.length) probeEvents.inc({ outcome: 'dropped' }, events.length - kept.length);
        return kept;
      };
      const result = s.result.bind(s);
      s.result = (workerId, r) => {
        const ok = result(workerId, r);
        if (!ok) staleResults.inc();
        return ok;
      };
    },
  };
}
