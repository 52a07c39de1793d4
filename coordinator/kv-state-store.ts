// The cluster coordinator's state in JetStream KV: one key per sweep and per trial, so a write
// touches only what changed and a restarted coordinator (on any host) reads it all back.
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsReplicas } from '../pipeline/index.js';
import { PhasesweepError } from '../spec/index.js';
import type { PersistedSweep, PersistedTrial } from './sweep-registry.js';
import type { StateSnapshot, StateStore } from './state-store.js';

/** KV keys allow [-/_=.a-zA-Z0-9]; ids are hex-encoded to keep any sweep name safe. */
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

export class KvStateStore implements StateStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
  ) {}

  static async open(natsUrl: string, bucket: string): Promise<KvStateStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: natsUrl,
        maxReconnectAttempts: -1,
        name: 'phasesweep-coordinator-state',
      });
    } catch (err) {
      throw new PhasesweepError('UNAVAILABLE', `NATS ${natsUrl} is unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const kv = await new Kvm(nc).create(bucket, { history: 1, replicas: natsReplicas() });
    return new KvStateStore(nc, kv);
  }

  async load(): Promise<StateSnapshot> {
    const sweeps: PersistedSweep[] = [];
    const trials: PersistedTrial[] = [];
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    // Bounded concurrency: thousands of trials load in a few round trips' time.
    for (let i = 0; i < keys.length; i += 256) {
      const entries = await Promise.all(keys.slice(i, i + 256).map((k) => this.kv.get(k)));
      for (const e of entries) {
        if (e === null || e.operation !== 'PUT') continue;
        if (e.key.startsWith('sweep.')) sweeps.push(e.json<PersistedSweep>());
        else if (e.key.startsWith('trial.')) trials.push(e.json<PersistedTrial>());
      }
    }
    return { sweeps, trials };
  }

  async write(batch: StateSnapshot): Promise<void> {
    await Promise.all([
      ...batch.sweeps.map((s) => this.kv.put(`sweep.${hex(s.sweepId)}`, JSON.stringify(s))),
      ...batch.trials.map((t) => this.kv.put(`trial.${hex(t.sweepId)}.${t.trialId}`, JSON.stringify(t))),
    ]);
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
