// HTTP routes of the live page on the coordinator's ops server: the page itself, a JSON
// snapshot, and a server-sent event stream that pushes a new snapshot whenever it changes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scheduler } from '../scheduler.js';
import { livePageHtml } from './live-page.js';
import { liveSnapshot, type LiveQuery } from './live-view.js';
import type { ProbeSeriesStore } from './probe-series.js';

export interface LiveRoutesOptions {
  scheduler: Scheduler;
  store: ProbeSeriesStore;
  /** How often a stream looks for changes (default 500 ms). */
  pollMs?: number;
}

function queryOf(url: URL): LiveQuery {
  const get = (k: string) => url.searchParams.get(k) ?? undefined;
  return { sweep: get('sweep'), axis: get('axis'), probe: get('probe') };
}

/** A route for the ops server: handles `/`, `/live/snapshot` and `/live/stream`. */
export function liveRoutes(o: LiveRoutesOptions) {
  const page = livePageHtml();
  const pollMs = o.pollMs ?? 500;
  return (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (req.method !== 'GET') return false;
    if (url.pathname === '/' || url.pathname === '/live' || url.pathname === '/live/') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(page);
      return true;
    }
    if (url.pathname === '/live/snapshot') {
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(liveSnapshot(o.scheduler, o.store, queryOf(url))));
      return true;
    }
    if (url.pathname === '/live/stream') {
      const q = queryOf(url);
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      let last = '';
      let idle = 0;
      const push = () => {
        const text = JSON.stringify(liveSnapshot(o.scheduler, o.store, q));
        if (text !== last) {
          last = text;
          idle = 0;
          res.write(`data: ${text}\n\n`);
        } else if (++idle * pollMs >= 15_000) {
          // A comment now and then keeps proxies from closing a quiet stream.
          idle = 0;
          res.write(': keep-alive\n\n');
        }
      };
      push();
      const timer = setInterval(push, pollMs);
      timer.unref();
      req.on('close', () => clearInterval(timer));
      return true;
    }
    return false;
  };
}
