// The analysis spec (YAML): which events, with which criteria, thresholds and window, which
// axes form families, α, and the bootstrap. Every problem is reported at once with its path.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SpecError } from '../spec/errors.js';
import { DEFAULT_EVENTS, type EventDefinition } from './events.js';

const comparison = z.enum(['<=', '<', '>=', '>']);

const threshold = z
  .object({
    kind: z.literal('threshold').default('threshold'),
    probe: z.string().min(1),
    op: comparison,
    value: z.number().optional(),
    fraction_of_max: z.number().positive().optional(),
  })
  .strict()
  .refine((c) => (c.value === undefined) !== (c.fraction_of_max === undefined), {
    message: 'set exactly one of value and fraction_of_max',
  });

const steepestDecline = z
  .object({
    kind: z.literal('steepest_decline'),
    probe: z.string().min(1),
    smooth: z.number().int().positive().default(5),
  })
  .strict();

const eventSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and _'),
    window: z.number().int().positive().optional(),
    criteria: z.array(z.union([steepestDecline, threshold])).min(1),
  })
  .strict();

export const analysisSpecSchema = z
  .object({
    /** Default window w for events that set none. */
    window: z.number().int().positive().default(5),
    alpha: z.number().gt(0).lt(1).default(0.05),
    confidence: z.number().gt(0).lt(1).default(0.95),
    /** Replaces the default events when given. */
    events: z.array(eventSchema).min(1).optional(),
    families: z
      .object({
        /** Axes to test across; default: every axis with at least two levels. */
        axes: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .default({}),
    segmentation: z
      .object({
        probe: z.string().min(1).default('rel_drift'),
        log: z.boolean().default(true),
        min_size: z.number().int().positive().default(5),
        beta: z.number().positive().default(3),
      })
      .strict()
      .default({ probe: 'rel_drift', log: true, min_size: 5, beta: 3 }),
    bootstrap: z
      .object({
        resamples: z.number().int().min(100).default(9999),
        seed: z.number().int().min(0).default(0),
      })
      .strict()
      .default({ resamples: 9999, seed: 0 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const names = new Set<string>();
    s.events?.forEach((e, i) => {
      if (names.has(e.name))
        ctx.addIssue({ code: 'custom', path: ['events', i, 'name'], message: 'duplicate event' });
      names.add(e.name);
    });
  });

export type AnalysisSpecInput = z.input<typeof analysisSpecSchema>;

export interface AnalysisSpec {
  events: EventDefinition[];
  alpha: number;
  confidence: number;
  axes: string[] | null;
  segmentation: { probe: string; log: boolean; minSize: number; beta: number };
  bootstrap: { resamples: number; seed: number };
}

/** Validates a spec object (already parsed from YAML/JSON); undefined gives the defaults. */
export function resolveAnalysisSpec(input: unknown = {}, source = 'analysis spec'): AnalysisSpec {
  const r = analysisSpecSchema.safeParse(input ?? {});
  if (!r.success) {
    throw new SpecError(
      source,
      r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const s = r.data;
  const events: EventDefinition[] = s.events
    ? s.events.map((e) => ({ name: e.name, window: e.window ?? s.window, criteria: e.criteria }))
    : DEFAULT_EVENTS.map((e) => ({ ...e, window: s.window }));
  return {
    events,
    alpha: s.alpha,
    confidence: s.confidence,
    axes: s.families.axes ?? null,
    segmentation: {
      probe: s.segmentation.probe,
      log: s.segmentation.log,
      minSize: s.segmentation.min_size,
      beta: s.segmentation.beta,
    },
    bootstrap: s.bootstrap,
  };
}

export function parseAnalysisSpec(text: string, source: string): AnalysisSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new SpecError(source, [{ path: '', message: `not valid YAML: ${(err as Error).message}` }]);
  }
  return resolveAnalysisSpec(doc ?? {}, source);
}
