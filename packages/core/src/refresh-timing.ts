/**
 * When a token is served, refreshed and retried: pure functions of its times, in one place. All times are on the
 * provider's `now()` scale, in milliseconds.
 */

/** A token is served until this instant: `expiresAt` minus the skew, or after half its life if it lives less than twice the skew. */
export function cutoffOf(expiresAt: number, receivedAt: number, skewMs: number): number {
  return expiresAt - Math.min(skewMs, (expiresAt - receivedAt) / 2);
}

/**
 * From this instant a call starts one background refresh: `aheadMs` before the cutoff, but never before half the
 * token's usable life (receipt to cutoff) has passed.
 */
export function refreshStartOf(cutoff: number, receivedAt: number, aheadMs: number): number {
  return Math.max(cutoff - aheadMs, receivedAt + (cutoff - receivedAt) / 2);
}

/** After a background refresh started at `now` (or failed), calls wait this long before starting another. */
export function nextRefreshAttemptAfter(cutoff: number, now: number): number {
  return now + Math.min(5_000, Math.max(100, (cutoff - now) / 8));
}

/**
 * How long new token requests are paced after `failures` consecutive failures: none after the first (a transient
 * error is retried by the next call), then 1 s, doubling up to 30 s; a success resets it.
 */
export function pauseAfter(failures: number): number {
  return failures < 2 ? 0 : Math.min(30_000, 1000 * 2 ** (failures - 2));
}
