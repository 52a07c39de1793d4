// Retry delays: exponential with full jitter, capped, so a fleet of ingesters facing the same
// ClickHouse outage does not retry in lockstep. Pure; the random source is passed in.

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, maxMs: 15_000 };

/** Delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  if (failures <= 0) return 0;
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 30));
  // Never below half the ceiling: a retry right after a failure only adds load.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
