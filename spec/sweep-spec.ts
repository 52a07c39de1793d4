// The sweep spec: a base trial config, grid axes over any field path, and seeds as replicates.
// Parsing reports every problem at once, each with its path, so a user fixes a file in one pass.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { SpecError, type Issue } from './errors.js';
import { MAX_SOBOL_DIMS } from './sampling.js';
import { resolveTrainerPaths, TrialConfig } from './trial-config.js';

/** Short axis names researchers use, mapped to their field paths in the trial config. */
export const AXIS_ALIASES: Readonly<Record<string, string>> = {
  weight_decay: 'train.weight_decay',
  weight_decay_start_epoch: 'train.weight_decay_start_epoch',
  early_stop_epoch: 'train.early_stop_epoch',
  noise: 'train.noise',
  lr: 'train.lr',
  epochs: 'train.epochs',
  batch_size: 'train.batch_size',
  d_model: 'model.d_model',
};

const AxisValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);

/** A continuous axis: its levels are drawn (`samples`), jointly with the other sampled axes. */
const SampledAxisSchema = z
  .object({
    sample: z.enum(['uniform', 'log-uniform']),
    min: z.number(),
    max: z.number(),
  })
  .strict()
  .refine((a) => a.max > a.min, { message: 'max must be greater than min', path: ['max'] })
  .refine((a) => a.sample !== 'log-uniform' || a.min > 0, {
    message: 'log-uniform needs min > 0',
    path: ['min'],
  });

export const SweepSpec = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'use letters, digits, "_", "-" or "." (at most 63)'),
    description: z.string().optional(),
    sweep_seed: z.number().int().min(0).max(0xffffffff).default(0),
    seeds: z.union([
      z.number().int().min(1).max(100_000),
      z.array(z.number().int().min(0).max(0xffffffff)).min(1),
    ]),
    priority: z.number().int().default(0),
    base: z.unknown().default({}),
    axes: z.record(z.string(), z.union([z.array(AxisValue).min(1), SampledAxisSchema])).default({}),
    /** How many joint points the sampled axes get, and how they are drawn. */
    samples: z
      .object({
        n: z.number().int().min(1).max(100_000),
        method: z.enum(['random', 'sobol']).default('sobol'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((s) => s.samples !== undefined || Object.values(s.axes).every(Array.isArray), {
    message: 'sampled axes need `samples: { n, method }`',
    path: ['samples'],
  })
  .refine(
    (s) =>
      Object.values(s.axes).filter((a) => !Array.isArray(a)).length <= MAX_SOBOL_DIMS ||
      s.samples?.method !== 'sobol',
    {
      message: `Sobol sampling supports at most ${MAX_SOBOL_DIMS} sampled axes`,
      path: ['samples', 'method'],
    },
  );

export type SweepSpec = Omit<z.output<typeof SweepSpec>, 'base'> & {
  base: TrialConfig;
  /** The spec file's directory when it was loaded from a file: relative trainer paths resolve here. */
  baseDir?: string;
};

export interface ParseOptions {
  /** Resolve a command trainer's relative `cwd` against this (absolute) directory. */
  baseDir?: string;
}

/**
 * A union's issue, replaced by the issues of the one branch whose shape the value has (the
 * branch whose issues are all below the union's own path): `trainer.command: …` instead of
 * "Invalid input" for `trainer: { command: "python train.py" }`.
 */
function flatIssues(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((i) => {
    if (i.code !== 'invalid_union' || i.errors.length === 0) return [{ path: i.path, message: i.message }];
    const shaped = i.errors.filter((branch) => branch.length > 0 && branch.every((b) => b.path.length > 0));
    if (shaped.length !== 1) return [{ path: i.path, message: i.message }];
    return flatIssues(shaped[0]!).map((b) => ({ path: [...i.path, ...b.path], message: b.message }));
  });
}

function zodIssues(error: z.ZodError, prefix: string[] = []): Issue[] {
  return flatIssues(error.issues).map((i) => ({
    path: [...prefix, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
}

/** Axis paths that may name a field the base does not set: task variants and free-form params. */
const OPEN_PREFIXES = ['task.', 'params.'];

/** Resolves an axis name (alias or dotted path) to its canonical dotted path. */
export function axisPath(name: string): string {
  return AXIS_ALIASES[name] ?? name;
}

export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (const key of keys.slice(0, -1)) {
    const next = cur[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

/** The most trials one sweep may expand to, and the largest spec text: beyond them lies a typo. */
export const SPEC_LIMITS = { trials: 1_000_000, levels: 10_000, bytes: 1024 * 1024 } as const;

/** How many trials a validated spec expands to, without expanding it. */
export function plannedTrialCount(spec: Pick<SweepSpec, 'axes' | 'samples' | 'seeds'>): number {
  const seeds = Array.isArray(spec.seeds) ? spec.seeds.length : spec.seeds;
  let n = seeds;
  let sampled = false;
  for (const levels of Object.values(spec.axes)) {
    if (Array.isArray(levels)) n *= levels.length;
    else sampled = true;
  }
  return sampled ? n * (spec.samples?.n ?? 1) : n;
}

/** Validates a parsed document; `source` names the file in error messages. */
export function parseSweepSpec(doc: unknown, source = 'spec', options: ParseOptions = {}): SweepSpec {
  const outer = SweepSpec.safeParse(doc);
  if (!outer.success) throw new SpecError(source, zodIssues(outer.error));
  const spec = outer.data;
  const issues: Issue[] = [];
  const base = TrialConfig.safeParse(spec.base ?? {});
  if (!base.success) issues.push(...zodIssues(base.error, ['base']));
  // Every axis level must produce a valid trial config: check each one against the base.
  if (base.success) {
    for (const [name, levels] of Object.entries(spec.axes)) {
      const path = axisPath(name);
      if (Array.isArray(levels) && levels.length > SPEC_LIMITS.levels) {
        issues.push({
          path: `axes.${name}`,
          message: `${levels.length.toLocaleString('en-US')} levels; an axis may have at most ${SPEC_LIMITS.levels.toLocaleString('en-US')}`,
        });
        continue;
      }
      if (getPath(base.data, path) === undefined && !OPEN_PREFIXES.some((p) => path.startsWith(p))) {
        issues.push({ path: `axes.${name}`, message: `no such field "${path}" in the trial config` });
        continue;
      }
      const values = Array.isArray(levels) ? levels : [levels.min, levels.max];
      values.forEach((level, i) => {
        const candidate = structuredClone(base.data) as unknown as Record<string, unknown>;
        setPath(candidate, path, level);
        const r = TrialConfig.safeParse(candidate);
        if (!r.success) {
          for (const is of flatIssues(r.error.issues)) {
            issues.push({
              path: Array.isArray(levels) ? `axes.${name}[${i}]` : `axes.${name}.${i === 0 ? 'min' : 'max'}`,
              message: `value ${JSON.stringify(level)}: ${is.path.join('.')}: ${is.message}`,
            });
          }
        }
      });
      if (Array.isArray(levels) && new Set(levels.map((l) => JSON.stringify(l))).size !== levels.length) {
        issues.push({ path: `axes.${name}`, message: 'levels must be distinct' });
      }
    }
  }
  if (Array.isArray(spec.seeds) && new Set(spec.seeds).size !== spec.seeds.length) {
    issues.push({ path: 'seeds', message: 'seeds must be distinct' });
  }
  const trials = plannedTrialCount(spec);
  if (trials > SPEC_LIMITS.trials) {
    issues.push({
      path: 'axes',
      message: `seeds × axis levels give ${trials.toLocaleString('en-US')} trials; a sweep may have at most ${SPEC_LIMITS.trials.toLocaleString('en-US')}`,
    });
  }
  if (issues.length > 0 || !base.success) throw new SpecError(source, issues);
  const { baseDir } = options;
  if (baseDir === undefined) return { ...spec, base: base.data };
  return { ...spec, base: resolveTrainerPaths(base.data, baseDir), baseDir };
}

export function parseSweepYaml(text: string, source = 'spec', options: ParseOptions = {}): SweepSpec {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SPEC_LIMITS.bytes)
    throw new SpecError(source, [
      {
        path: '',
        message: `${bytes.toLocaleString('en-US')} bytes; a spec may have at most ${SPEC_LIMITS.bytes.toLocaleString('en-US')}`,
      },
    ]);
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    // One line per problem: the parser's message without its code frame ("… at line 1, column 2").
    const msg = (err instanceof YAMLParseError ? err.message : String(err))
      .split('\n')[0]!
      .replace(/:\s*$/, '');
    throw new SpecError(source, [{ path: '', message: `not valid YAML: ${msg}` }]);
  }
  return parseSweepSpec(doc, source, options);
}

/** Reads and validates a spec file; a command trainer's relative `cwd` resolves against its directory. */
export async function loadSweepSpec(file: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError(file, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseSweepYaml(text, file, { baseDir: dirname(resolve(file)) });
}
