// The embedded coordinator's state: an append-only journal of JSON lines, fsynced per batch,
// compacted to the latest record per key when opened. A torn last line (crash mid-write) is
// ignored: its batch was never acknowledged.
import { open, readFile, rename, writeFile, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PhasesweepError } from '../spec/index.js';
import type { PersistedSweep, PersistedTrial } from './sweep-registry.js';
import type { StateSnapshot, StateStore } from './state-store.js';

type Line = { sweep: PersistedSweep } | { trial: PersistedTrial };

export class FileStateStore implements StateStore {
  private handle: FileHandle | undefined;
  constructor(private readonly path: string) {}

  async load(): Promise<StateSnapshot> {
    await mkdir(dirname(this.path), { recursive: true });
    const text = await readFile(this.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw new PhasesweepError(
        'UNAVAILABLE',
        `${this.path}: cannot read coordinator state: ${err.message}`,
        { cause: err },
      );
    });
    const sweeps = new Map<string, PersistedSweep>();
    const trials = new Map<string, PersistedTrial>();
    const lines = text.split('\n');
    lines.forEach((raw, i) => {
      if (raw.trim() === '') return;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch (err) {
        if (i >= lines.length - 2) return; // torn tail
        throw new PhasesweepError('INTERNAL', `${this.path}:${i + 1}: corrupt coordinator state line`, {
          cause: err,
        });
      }
      if ('sweep' in line) sweeps.set(line.sweep.sweepId, line.sweep);
      else trials.set(`${line.trial.sweepId}/${line.trial.trialId}`, line.trial);
    });
    const snapshot = { sweeps: [...sweeps.values()], trials: [...trials.values()] };
    // Compact: rewrite the latest records atomically, then append from there.
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, serialize(snapshot));
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, this.path);
    this.handle = await open(this.path, 'a');
    return snapshot;
  }

  async write(batch: StateSnapshot): Promise<void> {
    if (this.handle === undefined)
      throw new PhasesweepError('FAILED_PRECONDITION', 'state store written before load()');
    if (batch.sweeps.length === 0 && batch.trials.length === 0) return;
    await this.handle.write(serialize(batch));
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}

function serialize(b: StateSnapshot): string {
  let out = '';
  for (const sweep of b.sweeps) out += JSON.stringify({ sweep }) + '\n';
  for (const trial of b.trials) out += JSON.stringify({ trial }) + '\n';
  return out;
}
