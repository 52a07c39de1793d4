// Where the coordinator sends what it learns: trial status changes, and probe events that
// workers stream to it (embedded mode). Embedded mode writes a local store; a cluster, NATS.
import type { ProbeEvent, TrialEvent } from '../proto/index.js';

export interface CoordinatorSinks {
  probes(events: ProbeEvent[]): Promise<void>;
  trial(event: TrialEvent): Promise<void>;
}

export const discardSinks: CoordinatorSinks = {
  probes: () => Promise.resolve(),
  trial: () => Promise.resolve(),
};
