// The live page in headless Chromium with a trainer's own scalars: the probe selector lists the
// sweep's user scalars beside the probes, and choosing one draws its curves per axis level from
// the same event stream, growing as events arrive.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../coordinator/clock.js';
import { liveRoutes, ProbeSeriesStore } from '../../coordinator/live/index.js';
import { Scheduler } from '../../coordinator/scheduler.js';
import { ProbeEvent } from '../../proto/index.js';
import { expandSweep, parseSweepYaml } from '../../spec/index.js';

const CHROMIUM = '/usr/bin/chromium';

/** The DOM calls used inside the page (the project compiles without the DOM library). */
interface PageElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
  parentElement: PageElement | null;
}

describe('live page with user scalars', () => {
  let browser: Browser | undefined;
  let server: Server | undefined;

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it('lists the sweep’s user scalars in the probe selector and draws the one chosen', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install the chromium package`);
    const scheduler = new Scheduler({ clock: new ManualClock(), leaseTtlMs: 10_000 });
    const spec = parseSweepYaml('name: scalars\nseeds: 2\naxes: { weight_decay: [0, 0.5] }');
    scheduler.submit(spec, expandSweep(spec));
    const trials = [...scheduler.registry.list()[0]!.trials.values()];
    const store = new ProbeSeriesStore();
    const feed = (from: number, to: number) => {
      for (const t of trials)
        for (let epoch = from; epoch < to; epoch++)
          store.add([
            ProbeEvent.fromPartial({
              sweep_id: 'scalars',
              trial_id: t.trialId,
              attempt: 1,
              epoch,
              loss: 1 / (epoch + 1),
              scalars: { perplexity: Math.exp(1 / (epoch + 1)), 'attn.entropy': epoch, loss: 99 },
            }),
          ]);
    };
    feed(0, 10);
    const route = liveRoutes({ scheduler, store, pollMs: 100 });
    server = createServer((req, res) => {
      if (!route(req, res, new URL(req.url ?? '/', 'http://localhost'))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 820, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    await page.waitForSelector('#probe optgroup[label="user scalars"] option', { state: 'attached' });
    const groups = await page.$$eval('#probe option', (els: PageElement[]) =>
      els.map((el) => [el.parentElement?.getAttribute('label') ?? '', el.textContent ?? '']),
    );
    expect(groups.filter(([g]) => g === 'user scalars').map(([, name]) => name)).toEqual([
      'attn.entropy',
      'perplexity',
    ]);
    // The probes are all still there, and a scalar named like one is not listed a second time.
    expect(groups.filter(([g]) => g === 'probes').map(([, name]) => name)).toContain('loss');
    expect(groups.filter(([, name]) => name === 'loss')).toHaveLength(1);

    await page.selectOption('#probe', 'perplexity');
    await page.waitForSelector('#title:has-text("perplexity by epoch")');
    const curves = () =>
      page.$$eval('svg#chart polyline.curve', (els: PageElement[]) =>
        els.map((el) => ({
          level: el.getAttribute('data-level'),
          lastEpoch: Number(el.getAttribute('data-last-epoch')),
        })),
      );
    await page.waitForSelector('svg#chart polyline.curve');
    expect(await curves()).toEqual([
      { level: '0', lastEpoch: 9 },
      { level: '0.5', lastEpoch: 9 },
    ]);
    // The last median in the table is the scalar's, not the probe's.
    const lastMedian = await page.$$eval('#levels tr td:last-child', (els: PageElement[]) =>
      els.map((el) => el.textContent),
    );
    expect(lastMedian).toEqual([Math.exp(0.1).toFixed(2), Math.exp(0.1).toFixed(2)]);

    feed(10, 15);
    await page.waitForSelector('svg#chart polyline.curve[data-last-epoch="14"]');
    expect((await curves()).map((c) => c.lastEpoch)).toEqual([14, 14]);
    expect(page.url()).toContain('probe=perplexity');
    expect(errors).toEqual([]);
    await page.close();
  });
});
