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
  sweep: {
    summary: 'plan, submit, watch, cancel, retry and list sweeps on a coordinator',
    load: () => import('./commands/sweep.js'),
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
  schema: { summary: 'print the JSON Schema of sweep specs', load: () => import('./commands/schema.js') },
  export: { summary: 'export a local store to Parquet', load: () => import('./commands/export.js') },
};
