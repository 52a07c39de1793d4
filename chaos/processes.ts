// Processes the fault run starts and hits: spawned with the run's marker in their environment
// (found again in /proc, children included), output appended to one log file each, stopped,
// paused, killed and started again. Exits nobody asked for are recorded.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

/** The environment variable every process of a run carries, with the run id as its value. */
export const MARKER_ENV = 'PHASESWEEP_CHAOS_RUN';

export interface ProcessSpec {
  /** Short name: worker-0, coordinator, nats … */
  name: string;
  command: string;
  args: string[];
  /** Start it as a process-group leader (the embedded run, so Ctrl-C reaches its workers). */
  group?: boolean;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface UnexpectedExit extends ExitInfo {
  name: string;
  atMs: number;
  /** Whether it had become ready (a start that fails against a server that is down is not a crash). */
  wasReady: boolean;
  tail: string;
}

export interface ProcessContext {
  runId: string;
  logDir: string;
  startedAt: number;
  /** Called when a process exits while it was meant to be up. */
  onUnexpectedExit: (e: UnexpectedExit) => void;
}

const TAIL_CHARS = 64 * 1024;

export class ManagedProcess {
  private child: ChildProcess | undefined;
  private out = '';
  private listeners = new Set<() => void>();
  private exitedPromise: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private expectExit = false;
  /** Set once its readiness line was seen (see markReady). */
  ready = false;
  starts = 0;
  readonly logFile: string;

  constructor(
    readonly spec: ProcessSpec,
    private readonly ctx: ProcessContext,
  ) {
    this.logFile = join(ctx.logDir, `${spec.name}.log`);
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    const c = this.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** Output of the current start (its last 64 KiB). */
  output(): string {
    return this.out;
  }

  /** The exit of the current start. */
  get exited(): Promise<ExitInfo> {
    return this.exitedPromise;
  }

  start(): void {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.starts++;
    this.out = '';
    this.ready = false;
    this.expectExit = false;
    const stamp = ((Date.now() - this.ctx.startedAt) / 1000).toFixed(1);
    appendFileSync(
      this.logFile,
      `\n=== start #${this.starts} at t=${stamp}s: ${this.spec.command} ${this.spec.args.join(' ')}\n`,
    );
    const child = spawn(this.spec.command, this.spec.args, {
      env: { ...process.env, [MARKER_ENV]: this.ctx.runId },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.spec.group === true,
    });
    this.child = child;
    const onData = (d: Buffer) => {
      appendFileSync(this.logFile, d);
      this.out = (this.out + d.toString()).slice(-TAIL_CHARS);
      for (const l of this.listeners) l();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exitedPromise = new Promise<ExitInfo>((resolve) => {
      child.on('error', (err) => {
        appendFileSync(this.logFile, `=== spawn error: ${err.message}\n`);
        resolve({ code: null, signal: null });
      });
      child.on('exit', (code, signal) => {
        const s = ((Date.now() - this.ctx.startedAt) / 1000).toFixed(1);
        appendFileSync(this.logFile, `=== exit at t=${s}s: code ${code} signal ${signal}\n`);
        if (!this.expectExit) {
          this.ctx.onUnexpectedExit({
            name: this.name,
            code,
            signal,
            atMs: Date.now() - this.ctx.startedAt,
            wasReady: this.ready,
            tail: this.out.slice(-2000),
          });
        }
        resolve({ code, signal });
      });
    });
  }

  /** Resolves with the first match of `re` in this start's output; rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const check = () => {
        const m = this.out.match(re);
        if (m) {
          this.listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        } else if (!this.alive) {
          this.listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`${this.name} exited before printing ${String(re)}`));
        }
      };
      timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`${this.name}: no ${String(re)} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.listeners.add(check);
      void this.exitedPromise.then(check);
      check();
    });
  }

  /** Sends a signal we mean to end the process with (no unexpected-exit report). */
  kill(signal: NodeJS.Signals): void {
    if (!this.alive) return;
    this.expectExit = true;
    this.signal(signal);
  }

  /** Sends a signal that is not meant to end it (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined || !this.alive) return;
    try {
      // A group leader's signal goes to the whole group, as a terminal's Ctrl-C does.
      process.kill(this.spec.group === true ? -pid : pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM (SIGINT for a group), then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number, first: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> {
    if (!this.alive) return this.exitedPromise;
    this.signal('SIGCONT'); // a paused process cannot act on SIGTERM
    this.kill(first);
    const force = setTimeout(() => this.kill('SIGKILL'), graceMs);
    force.unref();
    const info = await this.exitedPromise;
    clearTimeout(force);
    return info;
  }
}
