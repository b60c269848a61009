/**
 * The provider's clocks. Lifetimes inside a process are counted on a monotonic clock, so a backward step of the
 * wall clock (an NTP correction, a VM restore) never keeps an expired token in service. What is stored, shared or
 * signed uses the wall clock (epoch milliseconds), which other processes and servers understand.
 */
export interface Clock {
  /** Epoch-like milliseconds that never step back: lifetimes, cutoffs and refresh times within this process. */
  now(): number;
  /** The wall clock, epoch milliseconds: stored tokens, assertions' `iat`/`exp`, a JWT's `exp`. */
  wall(): number;
  /** Checks the monotonic clock against the wall clock (see {@link systemClock}); cheap, but not free. */
  resync(): void;
}

/** A test clock: one function serves as both clocks. */
export function clockFrom(now: () => number): Clock {
  return { now, wall: now, resync() {} };
}

/**
 * The system's clocks. `now()` is `performance.now()` on the epoch scale, plus any time the monotonic clock missed:
 * Linux's monotonic clock stops while a machine or VM is suspended, the wall clock does not. `resync()` learns that
 * missed time from how far the wall clock has moved ahead of the monotonic one; a wall clock moving back is ignored.
 * So `now()` runs at least as fast as either clock, and an error only ever makes a token expire early.
 */
export function systemClock(wall: () => number = Date.now, monotonic?: () => number): Clock {
  // Node's global `performance` is a getter on globalThis: held once, each read costs a property load, not a call.
  const perf = globalThis.performance;
  const origin = perf.timeOrigin;
  const mono = monotonic ?? (() => perf.now());
  const startGap = wall() - (origin + mono());
  let missed = 0;
  return {
    // Read on every cached getToken(): performance.now() called directly unless a test gave its own source.
    now: monotonic === undefined ? () => origin + perf.now() + missed : () => origin + monotonic() + missed,
    wall,
    resync() {
      const gap = wall() - (origin + mono()) - startGap;
      // Milliseconds of jitter between the two clocks are not a suspend.
      if (gap > missed + 1000) missed = gap;
    },
  };
}
