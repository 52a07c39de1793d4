// Where a worker keeps training checkpoints so another worker can resume a trial: a local
// directory (embedded mode: every worker is on this machine) or a JetStream object store
// (cluster). A reference names the store kind, so any worker can tell what it can read.
import { Objm, type ObjectStore } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { natsReplicas } from '../pipeline/index.js';
import { PhasesweepError } from '../spec/index.js';

export interface CheckpointKey {
  sweepId: string;
  trialId: string;
  attempt: number;
  epoch: number;
}

export interface CheckpointStore {
  /** Stores the bytes durably and returns their reference. */
  put(key: CheckpointKey, bytes: Uint8Array): Promise<string>;
  get(ref: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

export class DirCheckpointStore implements CheckpointStore {
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  async put(k: CheckpointKey, bytes: Uint8Array): Promise<string> {
    const dir = join(this.dir, safe(k.sweepId), safe(k.trialId));
    await mkdir(dir, { recursive: true });
    const file = join(dir, `a${k.attempt}-e${k.epoch}.ckpt`);
    await writeFile(`${file}.tmp`, bytes);
    await rename(`${file}.tmp`, file); // never a half-written checkpoint under the real name
    return `file:${file}`;
  }

  async get(ref: string): Promise<Uint8Array> {
    if (!ref.startsWith('file:'))
      throw new PhasesweepError('FAILED_PRECONDITION', `checkpoint ${ref} is not in a local directory`);
    return new Uint8Array(await readFile(ref.slice('file:'.length)));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class NatsCheckpointStore implements CheckpointStore {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly os: ObjectStore,
    private readonly bucket: string,
  ) {}

  static async open(natsUrl: string, bucket: string): Promise<NatsCheckpointStore> {
    const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, name: 'phasesweep-checkpoints' });
    const os = await new Objm(nc).create(bucket, { replicas: natsReplicas() });
    return new NatsCheckpointStore(nc, os, bucket);
  }

  async put(k: CheckpointKey, bytes: Uint8Array): Promise<string> {
    const name = `${k.sweepId}/${k.trialId}/a${k.attempt}-e${k.epoch}`;
    await this.os.putBlob({ name }, bytes);
    return `nats-obj:${this.bucket}/${name}`;
  }

  async get(ref: string): Promise<Uint8Array> {
    const prefix = `nats-obj:${this.bucket}/`;
    if (!ref.startsWith(prefix))
      throw new PhasesweepError(
        'FAILED_PRECONDITION',
        `checkpoint ${ref} is not in object store ${this.bucket}`,
      );
    const bytes = await this.os.getBlob(ref.slice(prefix.length));
    if (bytes === null) throw new PhasesweepError('NOT_FOUND', `checkpoint ${ref} not found`);
    return bytes;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
