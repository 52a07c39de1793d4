// Prometheus metrics of a worker process. The agent reports through the small WorkerObserver
// interface, so it does not depend on prom-client and tests can pass their own observer.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface WorkerObserver {
  connected(up: boolean): void;
  heartbeatSent(): void;
  /** An epoch was trained and its probe event handed to the sink. */
  epochPublished(): void;
  trialFinished(outcome: 'completed' | 'diverged' | 'failed' | 'released' | 'lease_lost'): void;
  leaseLost(): void;
}

export interface WorkerMetrics extends WorkerObserver {
  /** Whether the coordinator stream is up now (readiness). */
  readonly isConnected: boolean;
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const registers = [registry];
  const connected = new Gauge({
    name: 'phasesweep_worker_connected',
    help: '1 while the coordinator stream is up',
    registers,
  });
  const reconnects = new Counter({
    name: 'phasesweep_worker_reconnects_total',
    help: 'Coordinator streams lost',
    registers,
  });
  const heartbeats = new Counter({
    name: 'phasesweep_worker_heartbeats_sent_total',
    help: 'Heartbeats sent',
    registers,
  });
  const epochs = new Counter({ name: 'phasesweep_worker_epochs_total', help: 'Epochs trained', registers });
  const published = new Counter({
    name: 'phasesweep_worker_events_published_total',
    help: 'Probe events handed to the event sink (NATS, or the coordinator stream)',
    registers,
  });
  const trials = new Counter({
    name: 'phasesweep_worker_trials_total',
    help: 'Trials finished by this worker, by outcome',
    labelNames: ['outcome'],
    registers,
  });
  const leasesLost = new Counter({
    name: 'phasesweep_worker_leases_lost_total',
    help: 'Leases the coordinator said this worker no longer holds',
    registers,
  });
  let up = false;
  return {
    get isConnected() {
      return up;
    },
    connected(now) {
      if (up && !now) reconnects.inc();
      up = now;
      connected.set(now ? 1 : 0);
    },
    heartbeatSent: () => heartbeats.inc(),
    epochPublished() {
      epochs.inc();
      published.inc();
    },
    trialFinished: (outcome) => trials.inc({ outcome }),
    leaseLost: () => leasesLost.inc(),
  };
}
