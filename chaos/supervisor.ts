// Keeps the run's long-running processes in the state the faults want them in: up (started
// again, with backoff, after any exit nobody asked for, or a start that failed against a server
// that is down) or down (killed by a fault). Records every exit that was not asked for.
import type { ManagedProcess, UnexpectedExit } from './processes.js';
import { sleep } from './servers.js';

export interface Member {
  readonly proc: ManagedProcess;
  /** Starts the process and resolves once it is ready (throws if it is not). */
  start(): Promise<void>;
}

interface Entry {
  member: Member;
  wantUp: boolean;
  /** The start loop running now, if any. */
  starting: Promise<void> | undefined;
}

export class Supervisor {
  private readonly entries = new Map<string, Entry>();
  private closing = false;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Starts that failed (the process exited or was not ready in time), by process name. */
  readonly failedStarts = new Map<string, number>();

  constructor(private readonly log: (line: string) => void) {}

  add(member: Member): void {
    this.entries.set(member.proc.name, { member, wantUp: false, starting: undefined });
  }

  get(name: string): Member | undefined {
    return this.entries.get(name)?.member;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** For ProcessContext.onUnexpectedExit: records it and starts the process again if it is meant to be up. */
  onExit(e: UnexpectedExit): void {
    if (this.closing) return;
    const entry = this.entries.get(e.name);
    if (entry === undefined || !entry.wantUp) return;
    if (e.wasReady) {
      this.unexpectedExits.push(e);
      this.log(`${e.name} exited unexpectedly (code ${e.code}, signal ${e.signal}); starting it again`);
    }
    if (entry.starting === undefined) void this.up(e.name).catch(() => undefined);
  }

  /** Starts it (again) until it is ready; resolves then, or once the run is closing. */
  up(name: string, deadlineMs = 120_000): Promise<void> {
    const entry = this.entries.get(name);
    if (entry === undefined) return Promise.reject(new Error(`no process ${name}`));
    entry.wantUp = true;
    entry.starting ??= this.startLoop(name, entry, Date.now() + deadlineMs).finally(() => {
      entry.starting = undefined;
    });
    return entry.starting;
  }

  private async startLoop(name: string, entry: Entry, deadline: number): Promise<void> {
    let backoff = 250;
    while (entry.wantUp && !this.closing) {
      const proc = entry.member.proc;
      if (proc.alive && proc.ready) return;
      if (proc.alive) {
        // Alive but not ready: a start still in progress from before; give it a fresh try.
        proc.kill('SIGKILL');
        await proc.exited;
      }
      try {
        await entry.member.start();
        return;
      } catch (err) {
        this.failedStarts.set(name, (this.failedStarts.get(name) ?? 0) + 1);
        this.log(`${name}: start failed (${err instanceof Error ? err.message : String(err)}); retrying`);
        if (proc.alive) {
          proc.kill('SIGKILL');
          await proc.exited;
        }
      }
      if (Date.now() > deadline) throw new Error(`${name} could not be started`);
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 3000);
    }
  }

  /** Takes it down on purpose with `signal` and waits for the exit. */
  async down(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new Error(`no process ${name}`);
    entry.wantUp = false;
    await entry.starting?.catch(() => undefined);
    entry.member.proc.kill(signal);
    await entry.member.proc.exited;
  }

  /** Whether it is meant to be up and is up and ready. */
  isUp(name: string): boolean {
    const entry = this.entries.get(name);
    return entry !== undefined && entry.wantUp && entry.member.proc.alive && entry.member.proc.ready;
  }

  /** Waits (bounded) until every member meant to be up is up. */
  async settled(timeoutMs: number): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const notUp = [...this.entries.entries()]
        .filter(([, e]) => e.wantUp && !(e.member.proc.alive && e.member.proc.ready))
        .map(([n]) => n);
      if (notUp.length === 0 || Date.now() > deadline) return notUp;
      await sleep(200);
    }
  }

  /** Stops everything in `order` (graceful first), no more restarts from here on. */
  async stopAll(order: string[][], graceMs: number): Promise<void> {
    this.closing = true;
    for (const group of order) {
      await Promise.all(
        group.map(async (name) => {
          const entry = this.entries.get(name);
          if (entry === undefined) return;
          entry.wantUp = false;
          await entry.member.proc.stop(graceMs);
        }),
      );
    }
  }
}
