// Worker child processes for `phasesweep run`: spawned against the local coordinator, their
// output appended to one log file, stopped with SIGTERM (they hand their trial back) then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface LocalWorkersOptions {
  count: number;
  coordinator: string;
  engine: string;
  logFile: string;
  checkpointDir: string;
  onExit?: (index: number, code: number | null, signal: NodeJS.Signals | null) => void;
}

export class LocalWorkers {
  private readonly children: ChildProcess[] = [];
  private readonly log: WriteStream;
  private readonly exited: Promise<void>[] = [];

  constructor(private readonly o: LocalWorkersOptions) {
    this.log = createWriteStream(o.logFile, { flags: 'a' });
    for (let i = 0; i < o.count; i++) {
      const child = spawn(
        process.execPath,
        [
          CLI_MAIN,
          'worker',
          '--coordinator',
          o.coordinator,
          '--engine',
          o.engine,
          '--id',
          `local-${i}`,
          '--checkpoint-dir',
          o.checkpointDir,
          // One worker owns the machine's GPUs (a slot per GPU); the others train on CPU, so
          // no two workers place trials on the same GPU.
          ...(i === 0 ? [] : ['--gpus', 'none']),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.pipe(this.log, { end: false });
      child.stderr?.pipe(this.log, { end: false });
      this.exited.push(
        new Promise((resolve) =>
          child.on('exit', (code, signal) => {
            o.onExit?.(i, code, signal);
            resolve();
          }),
        ),
      );
      this.children.push(child);
    }
  }

  get alive(): number {
    return this.children.filter((c) => c.exitCode === null && c.signalCode === null).length;
  }

  async stop(graceMs = 10_000): Promise<void> {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
    }, graceMs);
    force.unref();
    await Promise.all(this.exited);
    clearTimeout(force);
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}
