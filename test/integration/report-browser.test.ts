// The HTML report opened in headless Chromium: every kind of SVG plot renders with a non-zero
// size, the page loads nothing beyond itself, and a screenshot is kept under test-output/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import analyze from '../../cli/commands/analyze.js';

const CHROMIUM = '/usr/bin/chromium';

/** The DOM calls used inside the page (the project compiles without the DOM library). */
interface Box {
  width: number;
  height: number;
}
interface PageElement {
  getBoundingClientRect(): Box;
  getAttribute(name: string): string | null;
  getBBox(): Box;
}
const csv = new URL('../../../shared/fixtures/analyze_events.csv', import.meta.url).pathname;
const outDir = new URL('../../test-output/', import.meta.url).pathname;

describe('HTML report in a browser', () => {
  let browser: Browser;
  let dir: string;
  let report: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install the chromium package`);
    dir = mkdtempSync(join(tmpdir(), 'phasesweep-report-'));
    report = join(dir, 'report.html');
    const code = await analyze.run(['--input', csv, '--html', report], {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      signal: new AbortController().signal,
    });
    expect(code ?? 0).toBe(0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders every plot kind with visible marks', async () => {
    const page = await browser.newPage({ viewport: { width: 1250, height: 1000 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const url = pathToFileURL(report).href;
    await page.goto(url);

    const sizes = await page.$$eval('svg.plot', (els: PageElement[]) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { kind: el.getAttribute('data-plot'), width: r.width, height: r.height };
      }),
    );
    const kinds = new Set(sizes.map((s) => s.kind));
    expect([...kinds].sort()).toEqual(['event-epochs', 'kaplan-meier', 'probe-curves', 'timeline']);
    for (const s of sizes) {
      expect(s.width, `${s.kind} width`).toBeGreaterThan(100);
      expect(s.height, `${s.kind} height`).toBeGreaterThan(100);
    }
    // Two families (stabilization, generalization) × weight_decay in the fixture.
    expect(sizes.filter((s) => s.kind === 'kaplan-meier')).toHaveLength(2);

    /** Number of elements matching `sel` whose rendered box is non-empty. */
    const visible = (sel: string) =>
      page.$$eval(
        sel,
        (els: PageElement[]) =>
          els.filter((el) => {
            const b = el.getBBox();
            return b.width > 0 || b.height > 0;
          }).length,
      );
    // 12 trials: one dot per trial and family, three phase bars per trial, 3 KM curves per family.
    expect(await visible('svg[data-plot="event-epochs"] circle.dot')).toBe(24);
    expect(await visible('svg[data-plot="timeline"] rect.phase')).toBe(36);
    expect(await visible('svg[data-plot="kaplan-meier"] path.km')).toBe(6);
    expect(await visible('svg[data-plot="probe-curves"] path')).toBeGreaterThanOrEqual(12);

    expect(errors).toEqual([]);
    expect(requests.filter((r) => r !== url)).toEqual([]);

    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: join(outDir, 'report-browser.png'), fullPage: true });
    await page.close();
  });
});
