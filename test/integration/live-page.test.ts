// The coordinator's live page in headless Chromium during a real `phasesweep run`: the curves
// grow between two looks, progress moves, nothing is loaded from elsewhere, and a screenshot
// is kept under test-output/.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from '../support/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const outDir = new URL('../../test-output/', import.meta.url).pathname;

// 8 trials × 120 epochs on 2 workers: about 16 s here (the test stops it early), and short enough
// (≤ 128 epochs) that no curve is thinned, so its point count only grows.
const SPEC = `
name: live
seeds: 4
base:
  task: { kind: clustered-tokens, vocab: 16, clusters: 4, seq_len: 6, train_size: 64, val_size: 32 }
  model: { d_model: 8, ffn: 16 }
  train: { epochs: 120 }
  probes: { probe_set: 8 }
axes:
  weight_decay: [0, 0.5]
`;

/** The DOM calls used inside the page (the project compiles without the DOM library). */
interface PageElement {
  getAttribute(name: string): string | null;
}
interface Curve {
  level: string | null;
  points: number;
  lastEpoch: number;
}

describe('live page of phasesweep run', () => {
  let browser: Browser | undefined;
  let run: CliProcess | undefined;

  afterAll(async () => {
    await browser?.close();
    await run?.stop('SIGKILL');
  });

  it('shows progress and probe curves per axis level that grow while the sweep runs', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install the chromium package`);
    const dir = mkdtempSync(join(tmpdir(), 'phasesweep-live-'));
    const specFile = join(dir, 'live.yaml');
    writeFileSync(specFile, SPEC);
    run = startCli(['run', specFile, '--workers', '2', '--dir', dir, '--http', '127.0.0.1:0']);
    const url = (await run.waitFor(/live page: (http:\/\/\S+)/))[1]!;
    const origin = new URL(url).origin;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 820, height: 720 } });
    const foreign: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);

    const curves = () =>
      page.$$eval('svg#chart polyline.curve', (els: PageElement[]) =>
        els.map((el) => ({
          level: el.getAttribute('data-level'),
          points: (el.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean).length,
          lastEpoch: Number(el.getAttribute('data-last-epoch')),
        })),
      );
    const total = (cs: Curve[]) => cs.reduce((n, c) => n + c.points, 0);
    await page.waitForSelector('svg#chart polyline.curve', { timeout: 30_000 });
    const first = await curves();
    await page.waitForTimeout(2_000);
    const second = await curves();
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, 'live-page.png'), fullPage: true });

    expect(total(second)).toBeGreaterThan(total(first));
    expect(Math.max(...second.map((c) => c.lastEpoch))).toBeGreaterThan(
      Math.max(...first.map((c) => c.lastEpoch)),
    );
    expect(second.every((c) => c.level === '0' || c.level === '0.5')).toBe(true);
    expect(await page.$$eval('polygon.iqr', (els: PageElement[]) => els.length)).toBe(second.length);
    expect(await page.textContent('#summary')).toMatch(/^running · epochs \d+\/960/);
    expect(await page.$$eval('#levels tr', (els: PageElement[]) => els.length)).toBe(3); // header + 2 levels
    expect(await page.textContent('#conn')).toBe('live');
    // Choosing another probe redraws from the same stream.
    await page.selectOption('#probe', 'val_acc');
    await page.waitForSelector('#title:has-text("val_acc")');
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);

    const metrics = await (await fetch(`${origin}/metrics`)).text();
    expect(metrics).toMatch(/phasesweep_coordinator_probe_events_total\{outcome="accepted"[^}]*\} [1-9]/);
    expect((await fetch(`${origin}/readyz`)).status).toBe(200);
    await page.close();
    expect(await run.stop('SIGINT')).toBe(130);
  });
});
