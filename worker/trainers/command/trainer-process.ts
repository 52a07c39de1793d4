// One command trainer process: spawned in its own process group with the protocol channel on
// fd 3 (a Unix socketpair), its output into an OutputLog, and stopped by signalling the whole
// group (SIGTERM, grace, SIGKILL). Once the leader exits, whatever is left in its group is
// killed: nothing a trainer starts outlives its attempt.
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { TrainerError } from '../trainer-error.js';
import { clampDelay } from './frame-channel.js';
import type { OutputLog } from './output-log.js';
import { registerGroup, signalGroup, unregisterGroup } from './process-groups.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TrainerProcessOptions {
  command: readonly string[];
  cwd: string;
  env: Record<string, string>;
  output: OutputLog;
}

const sleep = (ms: number) =>
  new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), clampDelay(ms)).unref());

export function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `was killed by ${s.signal}` : `exited with status ${s.code}`;
}

export class TrainerProcess {
  readonly pid: number;
  /** The protocol channel, both directions. */
  readonly channel: Socket;
  /** Resolves when the group's leader has exited. */
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    output: OutputLog,
  ) {
    this.pid = child.pid!;
    this.channel = child.stdio[3] as Socket;
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => output.write('stdout', s));
    child.stderr!.on('data', (s: string) => output.write('stderr', s));
    child.stdout!.on('end', () => output.end('stdout'));
    child.stderr!.on('end', () => output.end('stderr'));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.status = { code, signal };
        // Whatever the leader left running in its group goes with it.
        signalGroup(this.pid, 'SIGKILL');
        resolve(this.status);
      }),
    );
    this.closed = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /** Starts the command; a missing or non-executable command (or cwd) is a permanent TrainerError. */
  static async start(o: TrainerProcessOptions): Promise<TrainerProcess> {
    const [program, ...args] = o.command;
    const isDir = await stat(o.cwd).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) throw new TrainerError('not_found', `trainer.cwd: ${o.cwd} is not a directory`);
    let child: ChildProcess;
    try {
      // A new process group (setsid), so that signals reach everything the trainer starts.
      const c = spawn(program!, args, {
        cwd: o.cwd,
        env: o.env,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        detached: true,
      });
      await new Promise<void>((resolve, reject) => {
        c.once('spawn', resolve);
        c.once('error', reject);
      });
      child = c;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const what =
        code === 'ENOENT'
          ? 'not found (on PATH, or its interpreter)'
          : code === 'EACCES'
            ? 'not executable'
            : `cannot be started (${(err as Error).message})`;
      throw new TrainerError('not_found', `trainer.command: ${JSON.stringify(program)} ${what}`, {
        cause: err,
      });
    }
    registerGroup(child.pid!);
    child.on('error', () => undefined); // signals go to the group by pid, never through child.kill
    return new TrainerProcess(child, o.output);
  }

  signal(signal: NodeJS.Signals): void {
    signalGroup(this.pid, signal);
  }

  /** SIGTERM to the group, `graceMs` for the leader to exit, then SIGKILL. */
  async terminate(graceMs: number): Promise<ExitStatus> {
    if (this.status !== undefined) return this.status;
    this.signal('SIGTERM');
    if ((await Promise.race([this.exited, sleep(graceMs)])) === 'timeout') this.signal('SIGKILL');
    return this.exited;
  }

  /** Waits up to `ms` for the leader to exit; undefined if it is still running. */
  async waitExit(ms: number): Promise<ExitStatus | undefined> {
    const r = await Promise.race([this.exited, sleep(ms)]);
    return r === 'timeout' ? undefined : r;
  }

  /** Ends the group for good and waits (briefly) for its output to be read to the end. */
  async finish(): Promise<void> {
    if (this.status === undefined) {
      this.signal('SIGKILL');
      await Promise.race([this.exited, sleep(5_000)]);
    }
    signalGroup(this.pid, 'SIGKILL');
    await Promise.race([this.closed, sleep(2_000)]);
    this.channel.destroy();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    // A leader that outlived SIGKILL (stuck in the kernel) stays for the exit handler.
    if (this.status !== undefined) unregisterGroup(this.pid);
  }
}
