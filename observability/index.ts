// Operational endpoints shared by the coordinator, workers and ingesters: one small HTTP server
// with /metrics, /healthz and /readyz, and the registry setup every process uses.
import { collectDefaultMetrics, Registry } from 'prom-client';

export {
  startOpsServer,
  parseHostPort,
  type OpsServer,
  type OpsServerOptions,
  type OpsRoute,
} from './ops-server.js';

/** A registry of its own per process role (tests run several in one process), with process metrics. */
export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry });
  return registry;
}
