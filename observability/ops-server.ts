// The HTTP side of every long-running process: /metrics for Prometheus, /healthz (the process
// answers) and /readyz (it can do its job) for orchestration, plus routes a process adds (the
// coordinator's live page). Lifecycle: startOpsServer() → close().
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Handles a request and returns true, or returns false to let the next route try. */
export type OpsRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

export interface OpsServerOptions {
  /** host:port; port 0 picks a free one. */
  listen: string;
  registry: Registry;
  /** Why the process is not ready, or undefined when it is. */
  notReady?: () => string | undefined;
  routes?: readonly OpsRoute[];
  /**
   * The address is a default nobody asked for: when its port is taken (two processes on one
   * host), listen on a free port instead of failing, and say so through `onFallback`.
   */
  fallbackToFreePort?: boolean;
  onFallback?: (wanted: string, got: string) => void;
}

export interface OpsServer {
  /** http://host:port, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function parseHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = i <= 0 ? '0.0.0.0' : listen.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad HOST:PORT "${listen}"`);
  return { host, port };
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startOpsServer(o: OpsServerOptions): Promise<OpsServer> {
  const { host, port: wanted } = parseHostPort(o.listen);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (url.pathname === '/metrics') {
        o.registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': o.registry.contentType }).end(text),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
        return;
      }
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (url.pathname === '/readyz') {
        const why = o.notReady?.();
        res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(why === undefined ? 'ready\n' : `not ready: ${why}\n`);
        return;
      }
      for (const route of o.routes ?? []) if (route(req, res, url)) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${String(err)}\n`);
    }
  });
  // Scrapes and live pages are small and frequent; don't let a stalled client hold a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 0;
  let port: number;
  try {
    port = await listenOn(server, host, wanted);
  } catch (err) {
    if (!(o.fallbackToFreePort === true && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')) throw err;
    port = await listenOn(server, host, 0);
    o.onFallback?.(o.listen, `${host}:${port}`);
  }
  server.unref();
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Server-sent event streams never end on their own.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
