// The seeded fault schedule: which fault hits which process when, and for how long. Pure: the
// same options give the same schedule, so a failing run is replayed exactly with its seed.
import { ChaosRng } from './rng.js';

export const FAULT_KINDS = [
  'worker_kill',
  'worker_pause',
  'coordinator_kill',
  'ingester_kill',
  'nats_restart',
  'clickhouse_restart',
  'embedded_interrupt',
  'partition',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which of the namespaced worker's links a partition cuts. */
export type PartitionLink = 'coordinator' | 'nats' | 'both';

export interface Fault {
  /** Position in the schedule, from 0. */
  index: number;
  /** When it starts, in ms after the fault phase began. */
  atMs: number;
  kind: FaultKind;
  /** The process or server hit: worker-N, ingester-N, coordinator, nats, clickhouse, embedded. */
  target: string;
  /**
   * How long the fault lasts: the pause (SIGSTOP → SIGCONT), the partition, or the time a killed
   * process or server stays down before it is started again.
   */
  holdMs: number;
  link?: PartitionLink;
}

export interface ScheduleOptions {
  seed: number;
  /** Length of the fault phase; no fault starts after it. */
  durationMs: number;
  /** Cluster workers, named worker-0 … worker-(n-1). */
  workers: number;
  /** Ingesters, named ingester-0 … */
  ingesters: number;
  /** The kinds that can be injected here (partition needs network namespaces). */
  kinds: readonly FaultKind[];
  /** The worker that runs inside the network namespace: the only partition target. */
  partitionTarget?: string;
  /** Mean gap between fault starts (default 3500 ms). */
  meanGapMs?: number;
  /** No fault before this (default 2000 ms): the cluster settles first. */
  startMs?: number;
  /** Faults in progress at once, at most (default 3). */
  maxConcurrent?: number;
}

interface KindSpec {
  weight: number;
  hold: readonly [number, number];
  /** Time the target needs after the hold (restart, re-attach) before it is hit again. */
  recoverMs: number;
}

const KIND_SPECS: Readonly<Record<FaultKind, KindSpec>> = {
  worker_kill: { weight: 3, hold: [0, 2000], recoverMs: 3000 },
  worker_pause: { weight: 2, hold: [300, 6000], recoverMs: 500 },
  coordinator_kill: { weight: 1.5, hold: [0, 3000], recoverMs: 2500 },
  ingester_kill: { weight: 1.5, hold: [0, 3000], recoverMs: 2000 },
  nats_restart: { weight: 1, hold: [0, 3000], recoverMs: 1500 },
  clickhouse_restart: { weight: 1, hold: [0, 4000], recoverMs: 1500 },
  embedded_interrupt: { weight: 1.5, hold: [0, 2000], recoverMs: 4000 },
  partition: { weight: 2, hold: [500, 8000], recoverMs: 1000 },
};

const LINKS: readonly PartitionLink[] = ['coordinator', 'nats', 'both'];

/** The longest a fault of any kind can last, with its recovery: what the run waits for at the end. */
export const MAX_FAULT_MS = Math.max(...Object.values(KIND_SPECS).map((s) => s.hold[1] + s.recoverMs));

function targetsOf(kind: FaultKind, o: ScheduleOptions): string[] {
  const workers = Array.from({ length: o.workers }, (_, i) => `worker-${i}`);
  switch (kind) {
    case 'worker_kill':
    case 'worker_pause':
      return workers;
    case 'ingester_kill':
      return Array.from({ length: o.ingesters }, (_, i) => `ingester-${i}`);
    case 'coordinator_kill':
      return ['coordinator'];
    case 'nats_restart':
      return ['nats'];
    case 'clickhouse_restart':
      return ['clickhouse'];
    case 'embedded_interrupt':
      return ['embedded'];
    case 'partition':
      return o.partitionTarget === undefined ? [] : [o.partitionTarget];
  }
}

/**
 * The faults of a run, in start order. Every enabled kind comes once first (in a seeded order)
 * so that even a short run exercises each; after that kinds are drawn by weight. A target is
 * never hit by two faults at once, and at most `maxConcurrent` faults are in progress.
 */
export function createSchedule(o: ScheduleOptions): Fault[] {
  const rng = new ChaosRng(o.seed);
  const meanGap = o.meanGapMs ?? 3500;
  const maxConcurrent = o.maxConcurrent ?? 3;
  const kinds = FAULT_KINDS.filter((k) => o.kinds.includes(k) && targetsOf(k, o).length > 0);
  // Every kind once first, in a seeded order (Fisher–Yates).
  const first = [...kinds];
  for (let i = first.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [first[i], first[j]] = [first[j]!, first[i]!];
  }
  const busyUntil = new Map<string, number>();
  const faults: Fault[] = [];
  let t = o.startMs ?? 2000;
  for (;;) {
    t += Math.round(meanGap * (0.4 + 1.2 * rng.next()));
    if (t >= o.durationMs || kinds.length === 0) break;
    const inProgress = faults.filter((f) => f.atMs + f.holdMs + KIND_SPECS[f.kind].recoverMs > t).length;
    if (inProgress >= maxConcurrent) continue;
    const kind =
      first.length > 0 ? first[0]! : rng.weighted(kinds.map((k) => [k, KIND_SPECS[k].weight] as const));
    const free = targetsOf(kind, o).filter((target) => (busyUntil.get(target) ?? 0) <= t);
    if (free.length === 0) continue;
    if (first[0] === kind) first.shift();
    const spec = KIND_SPECS[kind];
    const fault: Fault = {
      index: faults.length,
      atMs: t,
      kind,
      target: rng.pick(free),
      holdMs: rng.int(spec.hold[0], spec.hold[1]),
    };
    if (kind === 'partition') fault.link = rng.pick(LINKS);
    busyUntil.set(fault.target, t + fault.holdMs + spec.recoverMs);
    faults.push(fault);
  }
  return faults;
}

/** One line per fault, for the log a failing run is replayed from. */
export function describeFault(f: Fault): string {
  const link = f.link === undefined ? '' : ` link=${f.link}`;
  return `#${f.index} t=${(f.atMs / 1000).toFixed(1)}s ${f.kind} ${f.target} hold=${f.holdMs}ms${link}`;
}

/** How many faults of each kind (kinds with none are listed with 0). */
export function countByKind(
  faults: readonly Pick<Fault, 'kind'>[],
  kinds: readonly FaultKind[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of kinds) out[k] = 0;
  for (const f of faults) out[f.kind] = (out[f.kind] ?? 0) + 1;
  return out;
}
