// The embedded run under test: `phasesweep run wave.yaml` (coordinator, one local worker, DuckDB)
// in its own process group, wave after wave. Its fault is Ctrl-C (SIGINT to the group) and the
// same command again, which must resume the sweep from the hand-over checkpoints.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SweepStatus } from '../proto/index.js';
import { findMarked, type MarkedProcess } from './orphans.js';
import { CLI, ManagedProcess, type ProcessContext } from './processes.js';
import { sleep } from './servers.js';
import { createWave, type Wave } from './sweeps.js';

export interface EmbeddedOptions {
  ctx: ProcessContext;
  dir: string;
  seed: number;
  log: (line: string) => void;
  /** Problems found on the way (a run that would not stop, a bad exit code, leftover workers). */
  fail: (message: string) => void;
}

export interface EmbeddedWaveResult {
  wave: Wave;
  /** The status the last, completing run printed (--json); undefined if it never completed. */
  status: SweepStatus | undefined;
  runs: number;
}

export class EmbeddedRuns {
  readonly proc: ManagedProcess;
  readonly results: EmbeddedWaveResult[] = [];
  /** Processes found still running after an interrupted run had exited (its local workers). */
  readonly orphans: MarkedProcess[] = [];
  private moreWaves = true;
  private closing = false;
  private interrupted = false;
  private rerunDelayMs = 0;
  private loop: Promise<void> | undefined;
  private specFile = '';

  constructor(private readonly o: EmbeddedOptions) {
    // One process object for every run: its log file holds them all, in order.
    this.proc = new ManagedProcess(
      { name: 'embedded', command: process.execPath, args: [], group: true },
      { ...o.ctx, onUnexpectedExit: () => undefined },
    );
  }

  /** Runs waves until stopWaves(); each wave is run again after every interruption until it completes. */
  start(): void {
    this.loop ??= this.runWaves();
  }

  /** No new wave after the current one. */
  stopWaves(): void {
    this.moreWaves = false;
  }

  /** Waits (bounded) for the current wave to complete; false if it did not. */
  async finish(timeoutMs: number): Promise<boolean> {
    this.stopWaves();
    const done = await Promise.race([
      (this.loop ?? Promise.resolve()).then(() => true),
      sleep(timeoutMs).then(() => false),
    ]);
    return done;
  }

  /** Whether a run is up and training (an interrupt now hits a running sweep). */
  get running(): boolean {
    return this.proc.alive && this.proc.ready;
  }

  /** Ctrl-C: SIGINT to the run's process group; it must exit within 30 s, and is run again after `rerunDelayMs`. */
  async interrupt(rerunDelayMs: number, applied: () => void): Promise<boolean> {
    if (!this.running) return false;
    this.interrupted = true;
    this.rerunDelayMs = rerunDelayMs;
    const exited = this.proc.exited;
    this.proc.kill('SIGINT');
    applied();
    const stopped = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) {
      this.o.fail('embedded run did not exit within 30 s of Ctrl-C');
      this.proc.kill('SIGKILL');
    }
    return true;
  }

  /** Stops whatever runs now (Ctrl-C, then SIGKILL of the group). */
  async close(): Promise<void> {
    this.closing = true;
    this.moreWaves = false;
    await this.proc.stop(20_000, 'SIGINT');
    await this.loop?.catch(() => undefined);
  }

  private async runWaves(): Promise<void> {
    for (let index = 0; !this.closing && (index === 0 || this.moreWaves); index++) {
      const wave = createWave(this.o.seed, 'embedded', index);
      this.specFile = join(this.o.dir, `${wave.name}.yaml`);
      writeFileSync(this.specFile, wave.yaml);
      const result: EmbeddedWaveResult = { wave, status: undefined, runs: 0 };
      this.results.push(result);
      let failures = 0;
      while (!this.closing && result.status === undefined && failures < 5) {
        result.runs++;
        const code = await this.runOnce();
        if (code === 0) {
          result.status = parseStatus(this.proc.output());
          if (result.status === undefined) this.o.fail(`${wave.name}: run exited 0 without a JSON status`);
          break;
        }
        if (this.closing) break;
        if (this.interrupted && code === 130) {
          await this.checkWorkersGone(wave.name);
          await sleep(this.rerunDelayMs);
          continue;
        }
        failures++;
        this.o.fail(`${wave.name}: run #${result.runs} exited with code ${code}`);
        await this.checkWorkersGone(wave.name);
        await sleep(1000);
      }
      if (result.status === undefined) return;
    }
  }

  private async runOnce(): Promise<number | null> {
    this.interrupted = false;
    this.proc.spec.args = [
      CLI,
      'run',
      this.specFile,
      '--workers',
      '1',
      '--dir',
      this.o.dir,
      '--json',
      '--http',
      'off',
    ];
    this.proc.start();
    this.proc.waitFor(/trials on \d+ local workers/, 60_000).then(
      () => (this.proc.ready = true),
      () => undefined,
    );
    const { code, signal } = await this.proc.exited;
    this.proc.ready = false;
    return signal !== null ? 128 : code;
  }

  /** After a run has exited, its local workers must be gone too (they stop before it exits). */
  private async checkWorkersGone(wave: string): Promise<void> {
    const deadline = Date.now() + 3000;
    let left: MarkedProcess[] = [];
    while (Date.now() < deadline) {
      left = findMarked(this.o.ctx.runId).filter((p) => p.cmdline.includes(this.o.dir));
      if (left.length === 0) return;
      await sleep(200);
    }
    this.orphans.push(...left);
    this.o.fail(
      `${wave}: ${left.length} process(es) outlived the interrupted run: ${left.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`,
    );
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

function parseStatus(output: string): SweepStatus | undefined {
  const lines = output.split('\n').filter((l) => l.startsWith('{"sweep_id"'));
  const last = lines[lines.length - 1];
  if (last === undefined) return undefined;
  try {
    return JSON.parse(last) as SweepStatus;
  } catch {
    return undefined;
  }
}
