// Any YAML at the spec parser: a valid spec, or a SpecError whose every line reads
// `file: path: message`; never another exception, never a hang, never an expansion past the
// limit. Names with quotes, separators, `..` and unicode are refused or kept verbatim.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { expandSweep, parseSweepYaml, plannedTrialCount, SpecError, SPEC_LIMITS } from '../../spec/index.js';

const FILE = 'fuzz.yaml';

/** Parses, and checks the contract; returns the spec when it was valid. */
function parseChecked(text: string) {
  try {
    return parseSweepYaml(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    for (const line of (err as SpecError).message.split('\n'))
      expect(line.startsWith(`${FILE}: `)).toBe(true);
    return undefined;
  }
}

const nasty = fc.constantFrom(
  "it's",
  'a"b',
  '../etc',
  'a/b',
  'a\\b',
  'x;DROP TABLE trials',
  'ü-名前',
  '\u0000',
  '',
  ' ',
  '.hidden',
  'a'.repeat(64),
);
const name = fc.oneof(
  nasty,
  fc.string({ maxLength: 70 }),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/),
);
const level = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
);
const specLike = fc.record(
  {
    name,
    seeds: fc.oneof(
      fc.integer({ min: -5, max: 200_000 }),
      fc.array(fc.integer(), { maxLength: 6 }),
      fc.string(),
    ),
    sweep_seed: fc.integer(),
    base: fc.record(
      {
        task: fc.record(
          { kind: fc.constantFrom('clustered-tokens', 'modular-addition', 'nope'), vocab: fc.integer() },
          { requiredKeys: [] },
        ),
        train: fc.record(
          { epochs: fc.integer(), lr: fc.double(), weight_decay: fc.double() },
          { requiredKeys: [] },
        ),
        trainer: fc.oneof(
          fc.constant('builtin'),
          fc.string(),
          fc.record(
            { command: fc.array(fc.string(), { maxLength: 3 }), cwd: fc.string() },
            { requiredKeys: [] },
          ),
        ),
        params: fc.dictionary(name, level, { maxKeys: 3 }),
      },
      { requiredKeys: [] },
    ),
    axes: fc.dictionary(
      fc.oneof(
        fc.constantFrom('weight_decay', 'noise', 'lr', 'early_stop_epoch', 'seed'),
        fc.string(),
        name.map((n) => `params.${n}`),
      ),
      fc.oneof(
        fc.array(level, { minLength: 0, maxLength: 40 }),
        fc.record({
          sample: fc.constantFrom('uniform', 'log-uniform', 'x'),
          min: fc.double(),
          max: fc.double(),
        }),
      ),
      { maxKeys: 4 },
    ),
    samples: fc.record({
      n: fc.integer({ min: -1, max: 200_000 }),
      method: fc.constantFrom('sobol', 'random'),
    }),
  },
  { requiredKeys: ['name', 'seeds'] },
);

describe('spec parser under fuzzing', () => {
  it('answers arbitrary text with a spec or a file: path: message error', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 200 })),
        (text) => {
          parseChecked(text);
        },
      ),
      { numRuns: 500, seed: 31 },
    );
  });

  it('answers spec-shaped documents the same way, and expands valid ones within the limit', () => {
    fc.assert(
      fc.property(specLike, (doc) => {
        const spec = parseChecked(stringify(doc));
        if (spec === undefined) return;
        const planned = plannedTrialCount(spec);
        expect(planned).toBeLessThanOrEqual(SPEC_LIMITS.trials);
        if (planned <= 5_000) expect(expandSweep(spec)).toHaveLength(planned);
        // Param keys reach trial configs (and from there SQL and file names) verbatim.
        for (const key of Object.keys(doc.base?.params ?? {}))
          expect(Object.keys(spec.base.params)).toContain(key);
      }),
      { numRuns: 400, seed: 32 },
    );
  });

  it('refuses a sweep past a million trials before expanding it, and text past 1 MiB', () => {
    const t0 = Date.now();
    const huge = `name: huge\nseeds: 100000\naxes:\n  weight_decay: [${Array.from({ length: 100 }, (_, i) => i / 100).join(', ')}]\n`;
    expect(() => parseSweepYaml(huge, FILE)).toThrow(
      /fuzz\.yaml: axes: seeds × axis levels give 10,000,000 trials/,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(() => parseSweepYaml(`name: big\n# ${'x'.repeat(SPEC_LIMITS.bytes)}\nseeds: 1\n`, FILE)).toThrow(
      /fuzz\.yaml: \(root\): 1,048,5\d\d bytes; a spec may have at most 1,048,576/,
    );
    const levels = `name: many\nseeds: 1\naxes:\n  lr: [${Array.from({ length: 10_001 }, (_, i) => (i + 1) / 1e6).join(', ')}]\n`;
    expect(() => parseSweepYaml(levels, FILE)).toThrow(
      /axes\.lr: 10,001 levels; an axis may have at most 10,000/,
    );
  });

  it('keeps sweep names to letters, digits and ._- so they are safe in SQL and paths', () => {
    for (const bad of ["it's", '../x', 'a/b', 'x y', 'ü', '']) {
      expect(() => parseSweepYaml(`name: ${JSON.stringify(bad)}\nseeds: 1\n`, FILE)).toThrow(
        /fuzz\.yaml: name: /,
      );
    }
    expect(parseSweepYaml('name: a.b-c_1\nseeds: 1\n', FILE).name).toBe('a.b-c_1');
  });
});
