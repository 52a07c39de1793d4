// Starts real nats-server and clickhouse-server once for the integration tests, through the same
// script users run, and hands their URLs to the tests via `provide`/`inject`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    clickhouseUrl: string;
    servicesDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-services-'));
  execFileSync('bash', ['scripts/services.sh', 'start', dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  const env = Object.fromEntries(
    readFileSync(join(dir, 'env'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  project.provide('natsUrl', env['NATS_URL'] ?? '');
  project.provide('clickhouseUrl', env['CLICKHOUSE_URL'] ?? '');
  project.provide('servicesDir', dir);
  return () => {
    execFileSync('bash', ['scripts/services.sh', 'stop', dir], { stdio: 'inherit' });
  };
}
