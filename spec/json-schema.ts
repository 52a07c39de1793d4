// The sweep spec's JSON Schema, published for editors and other tools (spec/sweep-spec.schema.json,
// `phasesweep schema`). Generated from the same zod schemas that validate specs.
import { z } from 'zod';
import { SweepSpec } from './sweep-spec.js';
import { TrialConfig } from './trial-config.js';

export function sweepSpecJsonSchema(): Record<string, unknown> {
  const outer = z.toJSONSchema(SweepSpec, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const base = z.toJSONSchema(TrialConfig, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete base['$schema'];
  // The base's shared definitions (free-form JSON for params) are referenced from the root.
  const defs = base['$defs'] as Record<string, unknown> | undefined;
  delete base['$defs'];
  if (defs !== undefined) outer['$defs'] = { ...(outer['$defs'] ?? {}), ...defs };
  const properties = outer['properties'] as Record<string, unknown>;
  properties['base'] = {
    ...base,
    description: 'the trial config every trial starts from; axes override its fields',
  };
  return {
    title: 'phasesweep sweep spec',
    ...outer,
  };
}
