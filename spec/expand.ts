// Sweep expansion: the grid of axis levels × seeds, as trials with deterministic ids.
// Pure: the same spec always yields the same trials in the same order.
import { createHash } from 'node:crypto';
import { axisPath, setPath, type SweepSpec } from './sweep-spec.js';
import { mapToAxis, randomPoints, sobolPoints, type SampledAxis } from './sampling.js';
import { resolveTrainerPaths, TrialConfig } from './trial-config.js';

export type AxisLevel = number | string | boolean | null;

export interface PlannedTrial {
  trialId: string;
  seed: number;
  /** Axis name (as written in the spec) → level. */
  axes: Record<string, AxisLevel>;
  config: TrialConfig;
}

/** JSON with object keys sorted, so equal configs hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Replicate seeds: a list as given, or a count derived from the sweep seed, never colliding. */
export function replicateSeeds(spec: Pick<SweepSpec, 'seeds' | 'sweep_seed'>): number[] {
  if (Array.isArray(spec.seeds)) return [...spec.seeds];
  const seeds: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; seeds.length < spec.seeds; i++) {
    const s = sha256(`phasesweep-seed:${spec.sweep_seed}:${i}`).readUInt32BE(0);
    if (seen.has(s)) continue;
    seen.add(s);
    seeds.push(s);
  }
  return seeds;
}

/**
 * What a trial id is computed over: the config without the fields that still have their
 * defaults since they were added (trainer, params, resources), so every id from before stays.
 */
function identity(config: TrialConfig): Record<string, unknown> {
  const { trainer, params, resources, ...rest } = config;
  return {
    ...rest,
    ...(trainer !== 'builtin' ? { trainer } : {}),
    ...(Object.keys(params).length > 0 ? { params } : {}),
    ...(resources.gpu !== 0 ? { resources } : {}),
  };
}

export function trialId(config: TrialConfig, seed: number): string {
  return `t${sha256(`${canonicalJson(identity(config))}|${seed}`)
    .toString('hex')
    .slice(0, 16)}`;
}

function cartesian(axes: [string, AxisLevel[]][]): Record<string, AxisLevel>[] {
  let combos: Record<string, AxisLevel>[] = [{}];
  for (const [name, levels] of axes) {
    combos = combos.flatMap((c) => levels.map((l) => ({ ...c, [name]: l })));
  }
  return combos;
}

/** The sampled axes' joint points, as level records (empty record when nothing is sampled). */
function sampledCombos(spec: SweepSpec): Record<string, AxisLevel>[] {
  const sampled = Object.entries(spec.axes).filter((e): e is [string, SampledAxis] => !Array.isArray(e[1]));
  if (sampled.length === 0 || spec.samples === undefined) return [{}];
  const { n, method } = spec.samples;
  // Sobol: skip the all-zeros first point, which would put every axis at its minimum.
  const points =
    method === 'sobol'
      ? sobolPoints(n + 1, sampled.length).slice(1)
      : randomPoints(n, sampled.length, spec.sweep_seed);
  return points.map((u) =>
    Object.fromEntries(sampled.map(([name, axis], d) => [name, mapToAxis(u[d]!, axis)])),
  );
}

export function expandSweep(spec: SweepSpec): PlannedTrial[] {
  const seeds = replicateSeeds(spec);
  const trials: PlannedTrial[] = [];
  const grid = Object.entries(spec.axes).filter((e): e is [string, AxisLevel[]] => Array.isArray(e[1]));
  const combos = cartesian(grid).flatMap((g) => sampledCombos(spec).map((s) => ({ ...g, ...s })));
  for (const combo of combos) {
    const raw = structuredClone(spec.base) as unknown as Record<string, unknown>;
    for (const [name, level] of Object.entries(combo)) setPath(raw, axisPath(name), level);
    const parsed = TrialConfig.parse(raw);
    const config = spec.baseDir === undefined ? parsed : resolveTrainerPaths(parsed, spec.baseDir);
    for (const seed of seeds) trials.push({ trialId: trialId(config, seed), seed, axes: combo, config });
  }
  return trials;
}
