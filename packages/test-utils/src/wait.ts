import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this long, ms. Generous by default: a busy 2-core machine stretches wall-clock time several-fold. */
  timeoutMs?: number;
  /** Pause between checks, ms. Default 5. */
  intervalMs?: number;
  /** Named in the error when the deadline passes, e.g. `'the background refresh'`. */
  what?: string;
}

/**
 * Waits until `check` returns a truthy value and resolves with it; rejects once `timeoutMs` has passed.
 *
 * For tests: wait for the effect you expect (an event, a request counter, a key in a store) instead of
 * sleeping a fixed time and hoping it happened. Every check runs in a later turn of the event loop than
 * the call, so promise continuations started by what `check` observes (e.g. the cache update after a
 * `fetch` event) have run when this resolves. A thrown or rejected check fails the wait at once.
 *
 * @example
 * ```ts
 * await waitFor(() => events.some((e) => e.type === 'fetch' && e.background), { what: 'the background refresh' });
 * ```
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 20_000, intervalMs = 5, what = 'the condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await sleep(intervalMs);
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) throw new Error(`waitFor: ${what} did not happen within ${timeoutMs} ms`);
  }
}
