// The dispatch table: every command, loaded only when it runs.
import type { Command } from './command.js';

export interface Entry {
  summary: string;
  load: () => Promise<{ default: Command }>;
}

export const COMMANDS: Record<string, Entry> = {
  run: {
    summary: 'run a sweep on this machine (coordinator, local workers, embedded store)',
    load: () => import('./commands/run.js'),
  },
  plan: {
    summary: 'expand a sweep spec and print its trials (dry run)',
    load: () => import('./commands/plan.js'),
  },
  coordinator: {
    summary: 'serve the coordinator (gRPC) for a cluster',
    load: () => import('./commands/coordinator.js'),
  },
  worker: {
    summary: 'connect to a coordinator and train the trials it leases',
    load: () => import('./commands/worker.js'),
  },
  ingest: {
    summary: 'move probe events from NATS JetStream into ClickHouse',
    load: () => import('./commands/ingest.js'),
  },
  train: {
    summary: 'train one trial standalone and write its probe events as JSON lines',
    load: () => import('./commands/train.js'),
  },
  probe: {
    summary: 'compute the matrix probes for given matrices (JSON in, JSON out)',
    load: () => import('./commands/probe.js'),
  },
  analyze: {
    summary: 'find phase events and test their timing across seeds and axes',
    load: () => import('./commands/analyze.js'),
  },
  export: { summary: 'export a local store to Parquet', load: () => import('./commands/export.js') },
  submit: {
    summary: 'submit a sweep spec to a running coordinator',
    load: () => import('./commands/submit.js'),
  },
  status: {
    summary: "show a sweep's progress on a running coordinator",
    load: () => import('./commands/status.js'),
  },
};
