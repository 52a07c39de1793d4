// Shared pieces of the command-trainer tests: a coordinator and worker agents in this process
// over a real socket, sweep specs around the Node test trainer, and process liveness checks.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import type { Device, ProbeEvent, TrialEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml, type SweepSpec } from '../../spec/index.js';
import { createEngine, WorkerAgent, type CheckpointStore, type Engine } from '../../worker/index.js';

export const TOY_TRAINER = fileURLToPath(new URL('../fixtures/trainers/toy.mjs', import.meta.url));

export interface ToySpecOptions {
  name: string;
  epochs?: number;
  seeds?: number;
  params?: Record<string, unknown>;
  /** Extra trainer fields (YAML flow mapping entries), e.g. `timeout_s: 1`. */
  trainer?: string;
  /** The command's argv (default: node and the toy trainer). */
  command?: string[];
  axes?: string;
  probes?: string;
  /** `resources` of the base config (YAML flow mapping). */
  resources?: string;
}

/** A sweep spec whose trials the toy trainer trains. */
export function toySpec(o: ToySpecOptions): string {
  const command = JSON.stringify(o.command ?? [process.execPath, TOY_TRAINER]);
  return `
name: ${o.name}
seeds: ${o.seeds ?? 1}
base:
  trainer: { command: ${command}${o.trainer ? `, ${o.trainer}` : ''} }
  params: ${JSON.stringify(o.params ?? {})}
  train: { epochs: ${o.epochs ?? 5}, lr: 0.05 }
  probes: ${o.probes ?? '{}'}
  resources: ${o.resources ?? '{}'}
${o.axes ? `axes:\n${o.axes}` : ''}
`;
}

export interface CapturedLog {
  lines: string[];
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

export interface Harness {
  coordinator: Coordinator;
  events: ProbeEvent[];
  trialEvents: TrialEvent[];
  submit(text: string): SweepSpec;
  agent(o?: { id?: string; checkpoints?: CheckpointStore; checkpointEvery?: number; devices?: Device[] }): {
    agent: WorkerAgent;
    log: CapturedLog;
    running: Promise<void>;
  };
  close(): Promise<void>;
}

let engine: Promise<Engine> | undefined;

export async function startHarness(o: { maxFailures?: number; leaseTtlMs?: number } = {}): Promise<Harness> {
  const events: ProbeEvent[] = [];
  const trialEvents: TrialEvent[] = [];
  const coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    log: silentLogger,
    maxFailures: o.maxFailures,
    leaseTtlMs: o.leaseTtlMs,
    // These tests fail trials on purpose, one after another, on the one worker.
    quarantineAfter: 1000,
    sinks: {
      probes: (e) => {
        events.push(...e);
        return Promise.resolve();
      },
      trial: (e) => {
        trialEvents.push(e);
        return Promise.resolve();
      },
    },
  });
  void coordinator.run();
  engine ??= createEngine('wasm');
  const eng = await engine;
  const agents: { agent: WorkerAgent; running: Promise<void> }[] = [];
  return {
    coordinator,
    events,
    trialEvents,
    submit(text) {
      const spec = parseSweepYaml(text);
      coordinator.scheduler.submit(spec, expandSweep(spec));
      return spec;
    },
    agent(a = {}) {
      const log = captureLog();
      const agent = new WorkerAgent({
        coordinator: coordinator.address,
        engine: eng,
        log,
        workerId: a.id ?? 'w1',
        checkpoints: a.checkpoints,
        checkpointEvery: a.checkpointEvery,
        devices: a.devices,
        prefetch: 0,
      });
      const running = agent.run();
      agents.push({ agent, running });
      return { agent, log, running };
    },
    async close() {
      for (const a of agents) {
        await a.agent.shutdown();
        await a.running;
      }
      await coordinator.shutdown(1000);
    },
  };
}

export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether a process exists and is not a zombie (a dead child not yet reaped by its new parent). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids the toy trainer wrote for an attempt: its own and its child's (when it started one). */
export function toyPids(dir: string, trialId: string, attempt: number): number[] {
  const file = join(dir, `${trialId}.a${attempt}.pids`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split(' ')
    .filter((s) => s !== '')
    .map(Number);
}

/** Every pid the toy trainers wrote into `dir`. */
export function allToyPids(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pids'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split(' '))
    .filter((s) => s !== '')
    .map(Number);
}

/** Each trial's events by epoch: the latest attempt's event wins (a resumed attempt re-reports nothing). */
export function seriesOf(events: readonly ProbeEvent[], trialId: string): Record<number, unknown> {
  const out: Record<number, unknown> = {};
  for (const e of events.filter((x) => x.trial_id === trialId)) {
    const { time_ms: _t, attempt: _a, worker_id: _w, sweep_id: _s, ...rest } = e;
    out[e.epoch] = rest;
  }
  return out;
}
