// Where the coordinator's state survives it: every sweep and trial record, written as it
// changes. A local journal file in embedded mode, JetStream KV in a cluster.
import type { PersistedSweep, PersistedTrial } from './sweep-registry.js';

export interface StateSnapshot {
  sweeps: PersistedSweep[];
  trials: PersistedTrial[];
}

export interface StateStore {
  load(): Promise<StateSnapshot>;
  /** Durably writes these records (last write per key wins). */
  write(batch: StateSnapshot): Promise<void>;
  close(): Promise<void>;
}

export const memoryStateStore = (): StateStore => {
  const sweeps = new Map<string, PersistedSweep>();
  const trials = new Map<string, PersistedTrial>();
  return {
    load: () => Promise.resolve({ sweeps: [...sweeps.values()], trials: [...trials.values()] }),
    write: (b) => {
      for (const s of b.sweeps) sweeps.set(s.sweepId, s);
      for (const t of b.trials) trials.set(`${t.sweepId}/${t.trialId}`, t);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
};
