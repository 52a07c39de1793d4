// The accelerators a worker advertises in its hello: CUDA GPUs from nvidia-smi (or, where it is
// absent but NVIDIA device nodes exist, from torch in python3), and the WebGPU adapter when the
// webgpu engine is running. `--gpus 0,1` / `--gpus none` choose instead of detecting everything.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Device } from '../proto/index.js';
import { PhasesweepError } from '../spec/index.js';
import type { Engine } from './training/index.js';

export const NVIDIA_SMI_ARGS = ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'];

/** Prints the CUDA devices torch sees as one JSON line, [{index, name, memory}]. */
export const TORCH_PROBE = [
  'import json, torch',
  'n = torch.cuda.device_count() if torch.cuda.is_available() else 0',
  'p = [torch.cuda.get_device_properties(i) for i in range(n)]',
  'print(json.dumps([{"index": i, "name": d.name, "memory": d.total_memory} for i, d in enumerate(p)]))',
].join('\n');

/** Runs a program; resolves its stdout, rejects when it cannot start or exits non-zero. */
export type RunProgram = (
  file: string,
  args: readonly string[],
  o: { timeoutMs: number; env?: NodeJS.ProcessEnv },
) => Promise<string>;

export const runProgram: RunProgram = (file, args, o) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { timeout: o.timeoutMs, env: o.env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err as Error, { stdout, stderr }));
        else resolve(stdout);
      },
    );
  });

export interface Detection {
  devices: Device[];
  /** Where they came from; 'none' when nothing answered. */
  source: 'nvidia-smi' | 'torch' | 'none';
  /** Why nothing (or not everything) was found, for the log; '' when all went well. */
  note: string;
}

export interface DetectOptions {
  run?: RunProgram;
  /** Whether the machine has NVIDIA device nodes (default: /dev/nvidia0…, or /dev/dxg on WSL). */
  hasDeviceNodes?: () => boolean;
  /** Python with torch for the fallback (default python3 on PATH). */
  python?: string;
  timeoutMs?: number;
  /** The environment programs run in (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** CUDA GPUs from nvidia-smi, or from torch when nvidia-smi is absent; none on a machine without them. */
export async function detectCudaDevices(o: DetectOptions = {}): Promise<Detection> {
  const run = o.run ?? runProgram;
  const timeoutMs = o.timeoutMs ?? 15_000;
  const env = o.env ?? process.env;
  try {
    const { devices, skipped } = parseNvidiaSmi(await run('nvidia-smi', NVIDIA_SMI_ARGS, { timeoutMs, env }));
    return {
      devices,
      source: 'nvidia-smi',
      note: skipped.length > 0 ? `nvidia-smi lines not understood: ${skipped.join(' | ')}` : '',
    };
  } catch (err) {
    if (!notFound(err)) return { devices: [], source: 'none', note: `nvidia-smi failed: ${failure(err)}` };
  }
  // Without nvidia-smi, ask torch only where there is an NVIDIA device to find: importing torch
  // takes seconds, and every worker start on a CPU machine would pay for it.
  if (!(o.hasDeviceNodes ?? hasNvidiaDeviceNodes)())
    return { devices: [], source: 'none', note: 'no nvidia-smi and no NVIDIA devices' };
  const python = o.python ?? 'python3';
  // Every GPU, numbered as nvidia-smi numbers them (PCI bus order), like the first branch.
  const { CUDA_VISIBLE_DEVICES: _mask, ...unmasked } = env;
  try {
    const devices = parseTorchProbe(
      await run(python, ['-c', TORCH_PROBE], {
        timeoutMs,
        env: { ...unmasked, CUDA_DEVICE_ORDER: 'PCI_BUS_ID' },
      }),
    );
    return { devices, source: 'torch', note: '' };
  } catch (err) {
    return {
      devices: [],
      source: 'none',
      note: `no nvidia-smi, and ${python} with torch did not list GPUs: ${failure(err)}`,
    };
  }
}

/**
 * `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` output: one
 * "index, name, MiB" line per GPU (a name may hold commas; memory may be "[N/A]").
 */
export function parseNvidiaSmi(text: string): { devices: Device[]; skipped: string[] } {
  const devices: Device[] = [];
  const skipped: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\d+)\s*,\s*(.*?)\s*,\s*([^,]*)$/.exec(line);
    if (m === null) {
      skipped.push(line);
      continue;
    }
    const mib = Number(m[3]);
    devices.push({
      kind: 'cuda',
      index: Number(m[1]),
      name: m[2]!,
      memory_bytes: Number.isFinite(mib) && m[3]!.trim() !== '' ? Math.round(mib * 1024 * 1024) : 0,
    });
  }
  return { devices, skipped };
}

/** The last line TORCH_PROBE prints. */
export function parseTorchProbe(text: string): Device[] {
  const last = text.trim().split(/\r?\n/).pop() ?? '';
  const parsed = JSON.parse(last || '[]') as unknown;
  if (!Array.isArray(parsed)) throw new Error(`expected a JSON list, got ${last.slice(0, 80)}`);
  return parsed.map((d: { index?: unknown; name?: unknown; memory?: unknown }, i) => ({
    kind: 'cuda',
    index: typeof d.index === 'number' ? d.index : i,
    name: typeof d.name === 'string' ? d.name : '',
    memory_bytes: typeof d.memory === 'number' ? d.memory : 0,
  }));
}

/** `--gpus`: every GPU found, none, or these indices. */
export type GpuSelection = { kind: 'auto' } | { kind: 'none' } | { kind: 'list'; indices: number[] };

export function parseGpuSelection(value: string): GpuSelection {
  const v = value.trim().toLowerCase();
  if (v === 'auto' || v === 'all') return { kind: 'auto' };
  if (v === 'none' || v === '') return { kind: 'none' };
  const parts = v.split(',').map((p) => p.trim());
  if (!parts.every((p) => /^\d+$/.test(p)))
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `--gpus: expected auto, none or GPU indices like 0,1; got "${value}"`,
    );
  return { kind: 'list', indices: [...new Set(parts.map(Number))] };
}

/**
 * The default for `--gpus` from the worker's own CUDA_VISIBLE_DEVICES: a list of indices is
 * taken as the selection, "" or -1 as none; unset (or GPU UUIDs, which are not mapped) is auto.
 */
export function gpuSelectionFromEnv(env: NodeJS.ProcessEnv = process.env): {
  selection: GpuSelection;
  note: string;
} {
  const mask = env['CUDA_VISIBLE_DEVICES'];
  if (mask === undefined) return { selection: { kind: 'auto' }, note: '' };
  const v = mask.trim();
  if (v === '' || v === '-1') return { selection: { kind: 'none' }, note: `CUDA_VISIBLE_DEVICES="${mask}"` };
  if (/^\d+(\s*,\s*\d+)*$/.test(v))
    return { selection: parseGpuSelection(v), note: `CUDA_VISIBLE_DEVICES=${v}` };
  return {
    selection: { kind: 'auto' },
    note: `CUDA_VISIBLE_DEVICES=${v} is not a list of indices: ignored (use --gpus)`,
  };
}

/**
 * The CUDA devices to advertise. A list names GPUs by nvidia-smi index; one that detection did
 * not find is an error, unless detection found nothing at all (then the list is taken on trust).
 */
export async function chooseCudaDevices(
  selection: GpuSelection,
  detect: () => Promise<Detection> = () => detectCudaDevices(),
): Promise<Detection> {
  if (selection.kind === 'none') return { devices: [], source: 'none', note: '--gpus none' };
  const found = await detect();
  if (selection.kind === 'auto') return found;
  if (found.devices.length === 0)
    return {
      devices: selection.indices.map((index) => ({ kind: 'cuda', index, name: '', memory_bytes: 0 })),
      source: found.source,
      note: `GPUs ${selection.indices.join(',')} taken as given (${found.note || 'none detected'})`,
    };
  const byIndex = new Map(found.devices.map((d) => [d.index, d]));
  const missing = selection.indices.filter((i) => !byIndex.has(i));
  if (missing.length > 0)
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `--gpus: no GPU ${missing.join(', ')} on this machine (${found.source} lists ${found.devices.map((d) => d.index).join(', ')})`,
    );
  return { ...found, devices: selection.indices.map((i) => byIndex.get(i)!) };
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/**
 * The WebGPU adapter the webgpu engine trains on (nothing for other engines: loading Dawn only
 * to look would cost a GPU context). `gpu` defaults to the navigator.gpu the engine installed.
 */
export async function webgpuDevices(engine: Engine, gpu?: GpuLike, timeoutMs = 2_000): Promise<Device[]> {
  if (engine.info.backend !== 'webgpu') return [];
  const g = gpu ?? (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (g === undefined) return [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
    timer.unref();
  });
  const adapter = await Promise.race([g.requestAdapter().catch(() => null), timeout]);
  clearTimeout(timer);
  if (adapter === null) return [];
  const info = adapter.info ?? {};
  const name =
    info.description ||
    [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') ||
    'WebGPU adapter';
  return [{ kind: 'webgpu', index: 0, name, memory_bytes: 0 }];
}

/** One line for the log: "cuda:0 NVIDIA H100 80GB HBM3 (79.6 GiB), cuda:1 …". */
export function describeDevices(devices: readonly Device[]): string {
  return devices
    .map((d) => {
      const mem = d.memory_bytes > 0 ? ` (${(d.memory_bytes / 2 ** 30).toFixed(1)} GiB)` : '';
      return `${d.kind}:${d.index}${d.name ? ` ${d.name}` : ''}${mem}`;
    })
    .join(', ');
}

function hasNvidiaDeviceNodes(): boolean {
  try {
    return readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n) || n === 'dxg');
  } catch {
    return false;
  }
}

function notFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

function failure(err: unknown): string {
  const e = err as { message?: string; stdout?: string; stderr?: string; killed?: boolean };
  if (e.killed) return 'timed out';
  // A Python traceback ends with the error; nvidia-smi says what is wrong first, on stdout.
  const said = (e.stderr ?? '').trim().split('\n').pop() || (e.stdout ?? '').trim().split('\n')[0];
  return said || (err instanceof Error ? err.message : String(err));
}
