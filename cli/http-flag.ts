// The `--http HOST:PORT` flag of long-running commands: where /metrics, /healthz, /readyz (and
// the coordinator's live page) are served. `off` disables it. A default address whose port is
// taken falls back to a free port, so several processes on one host still start.
import {
  parseHostPort,
  startOpsServer,
  type OpsServer,
  type OpsServerOptions,
} from '../observability/index.js';
import { ExitError, EXIT, usageError } from './command.js';

export const DEFAULT_HTTP = {
  coordinator: '0.0.0.0:7071',
  ingest: '0.0.0.0:7072',
  run: '127.0.0.1:7071',
} as const;

export const HTTP_FLAG = { http: { type: 'string' } } as const;

/** The address to serve on, undefined for `off`; throws a usage error for a malformed one. */
export function httpAddress(value: string | undefined, fallback: string | undefined): string | undefined {
  const v = value ?? fallback;
  if (v === undefined || v === 'off') return undefined;
  try {
    parseHostPort(v);
  } catch {
    throw usageError(`--http: expected HOST:PORT or off, got "${v}"`);
  }
  return v;
}

export async function startHttp(
  value: string | undefined,
  fallback: string | undefined,
  options: Omit<OpsServerOptions, 'listen' | 'fallbackToFreePort'>,
): Promise<OpsServer | undefined> {
  const listen = httpAddress(value, fallback);
  if (listen === undefined) return undefined;
  try {
    return await startOpsServer({ ...options, listen, fallbackToFreePort: value === undefined });
  } catch (err) {
    throw new ExitError(EXIT.unavailable, `--http: cannot listen on ${listen}: ${(err as Error).message}`);
  }
}
