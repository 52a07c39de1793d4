// A CI-sized fault run: one minute of seeded faults (worker, coordinator, ingester and server
// kills, pauses, Ctrl-C of the embedded run, network partitions where namespaces work) on real
// processes and servers the run starts itself. Every check of the report must come out zero.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../chaos/report.js';

const MAIN = fileURLToPath(new URL('../../dist/chaos/main.js', import.meta.url));
const SEED = 20261204;

describe('a one-minute randomised fault run', () => {
  it(
    'loses, duplicates and changes nothing, and leaves no process behind',
    async () => {
      const child = spawn(process.execPath, [MAIN, '--duration', '60', '--seed', String(SEED)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      const line = stdout.trim().split('\n').pop() ?? '';
      expect(line, stderr.slice(-5000)).toMatch(/^\{"seed"/);
      const report = JSON.parse(line) as ChaosReport;
      expect(report.failures, stderr.slice(-5000)).toEqual([]);
      expect(report).toMatchObject({
        seed: SEED,
        duration_s: 60,
        lost: 0,
        duplicated: 0,
        mismatched_series: 0,
        orphans: 0,
        counters_agree: true,
      });
      expect(report.trials).toBeGreaterThanOrEqual(240);
      expect(report.rows).toBeGreaterThan(report.trials * 20);
      expect(report.series_compared).toBeGreaterThan(0);
      const injected = Object.values(report.faults_injected).reduce((a, b) => a + b, 0);
      expect(injected).toBeGreaterThanOrEqual(8);
      for (const [kind, n] of Object.entries(report.faults_injected)) {
        if (report.kinds_unavailable[kind] === undefined) expect(n, kind).toBeGreaterThan(0);
      }
      expect(code).toBe(0);
    },
    15 * 60_000,
  );
});
