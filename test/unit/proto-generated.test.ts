// The generated TypeScript is committed; this fails when it no longer matches the .proto files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('generated protobuf code', () => {
  it('is up to date with proto/ (regenerate with `npm run proto:gen`)', () => {
    const out = mkdtempSync(join(tmpdir(), 'phasesweep-proto-'));
    execFileSync(
      'node_modules/.bin/buf',
      ['generate', 'proto', '--template', 'proto/buf.gen.yaml', '-o', out],
      { stdio: 'pipe' },
    );
    const fresh = join(out, 'proto', 'gen');
    expect(files(fresh)).toEqual(files('proto/gen'));
    for (const f of files(fresh)) {
      expect(readFileSync(join(fresh, f), 'utf8'), `proto/gen/${f} is stale: run npm run proto:gen`).toBe(
        readFileSync(join('proto/gen', f), 'utf8'),
      );
    }
  });
});
