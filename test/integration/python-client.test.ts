// The Python client's own tests (pytest, clients/python/tests), run as part of `npm test`: the
// frame codec, the conversation with a worker, the torch helpers, and train.py's determinism
// and bit-identical resume under a fake worker.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('the Python client', () => {
  it('passes its pytest suite', () => {
    const python = process.env['PHASESWEEP_PYTHON'] ?? 'python3';
    const r = spawnSync(python, ['-m', 'pytest', 'clients/python/tests', '-q', '-p', 'no:cacheprovider'], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    expect(r.status, output).toBe(0);
    expect(output).toMatch(/\d+ passed/);
  });
});
