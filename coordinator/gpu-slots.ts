// Which GPUs of which worker the live leases hold. A lease for a trial that asks for k GPUs gets
// k distinct devices of its worker, each with a free slot (trials_per_gpu per device); the
// devices come free when the lease ends, whichever way (an entry is dropped once the lease table
// no longer has its token, so no ending path can leak one). Pure.
import type { Device } from '../proto/index.js';

export interface WorkerGpus {
  /** The worker's CUDA devices, "cuda:<index>", as it advertised them. */
  readonly devices: readonly string[];
  /** Trials that may share one device (≥ 1). */
  readonly perGpu: number;
}

interface Holding {
  readonly workerId: string;
  /** null: a lease re-created after a restart, whose devices the coordinator no longer knows. */
  readonly devices: readonly string[] | null;
}

export class GpuSlots {
  private readonly byToken = new Map<string, Holding>();
  private readonly byWorker = new Map<string, Set<string>>();

  /** `isLive(token)`: whether the lease with that token still exists. */
  constructor(private readonly isLive: (token: string) => boolean) {}

  /** The lease `token` holds these devices of `workerId`. */
  assign(token: string, workerId: string, devices: readonly string[]): void {
    this.hold(token, { workerId, devices: [...devices] });
  }

  /**
   * A lease restored after a restart holds GPUs of `workerId` that are not known: until it ends,
   * that worker gets no GPU lease (one might land on a device already busy).
   */
  holdUnknown(token: string, workerId: string): void {
    this.hold(token, { workerId, devices: null });
  }

  /** Trials holding each of the worker's devices now; undefined when some holdings are unknown. */
  use(workerId: string): Map<string, number> | undefined {
    const use = new Map<string, number>();
    for (const h of this.holdings(workerId)) {
      if (h.devices === null) return undefined;
      for (const d of h.devices) use.set(d, (use.get(d) ?? 0) + 1);
    }
    return use;
  }

  /**
   * `count` distinct devices of the worker with a free slot, least busy first (then in the order
   * advertised); undefined when it has fewer than that free.
   */
  pick(workerId: string, gpus: WorkerGpus, count: number): string[] | undefined {
    if (count <= 0) return [];
    const use = this.use(workerId);
    if (use === undefined) return undefined;
    const free = gpus.devices
      .map((d, i) => ({ d, i, n: use.get(d) ?? 0 }))
      .filter((x) => x.n < gpus.perGpu)
      .sort((a, b) => a.n - b.n || a.i - b.i);
    if (free.length < count) return undefined;
    return free.slice(0, count).map((x) => x.d);
  }

  private hold(token: string, h: Holding): void {
    this.byToken.set(token, h);
    let tokens = this.byWorker.get(h.workerId);
    if (tokens === undefined) this.byWorker.set(h.workerId, (tokens = new Set()));
    tokens.add(token);
  }

  /** The worker's holdings whose leases are still live (the rest are dropped here). */
  private holdings(workerId: string): Holding[] {
    const tokens = this.byWorker.get(workerId);
    if (tokens === undefined) return [];
    const out: Holding[] = [];
    for (const token of tokens) {
      const h = this.byToken.get(token);
      if (h !== undefined && this.isLive(token)) out.push(h);
      else {
        tokens.delete(token);
        this.byToken.delete(token);
      }
    }
    if (tokens.size === 0) this.byWorker.delete(workerId);
    return out;
  }
}

/** A worker's CUDA devices as lease device names ("cuda:<index>"), and how many trials may share each. */
export function workerGpus(
  devices: readonly Device[] | undefined,
  trialsPerGpu: number | undefined,
): WorkerGpus {
  const names = (devices ?? []).filter((d) => d.kind === 'cuda').map((d) => `cuda:${d.index}`);
  return { devices: [...new Set(names)], perGpu: Math.max(1, trialsPerGpu ?? 1) };
}

export function hasGpus(devices: readonly Device[] | undefined): boolean {
  return devices?.some((d) => d.kind === 'cuda') ?? false;
}

/**
 * The GPUs a trial config asks for, `resources.gpu`, read defensively (the config schema checks
 * it on submit): a whole number ≥ 1, anything else (absent, unreadable) counts as none.
 */
export function gpuNeedOf(configJson: string): number {
  try {
    const config = JSON.parse(configJson) as { resources?: { gpu?: unknown } | null } | null;
    const gpu = config?.resources?.gpu;
    return typeof gpu === 'number' && Number.isInteger(gpu) && gpu > 0 ? gpu : 0;
  } catch {
    return 0;
  }
}
