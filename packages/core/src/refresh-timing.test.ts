import { describe, expect, it } from 'vitest';
import { cutoffOf, nextRefreshAttemptAfter, pauseAfter, refreshStartOf } from './refresh-timing.ts';

describe('refresh timing', () => {
  it('cutoff: expiresAt minus the skew; a short-lived token after half its life', () => {
    expect(cutoffOf(3600_000, 0, 30_000)).toBe(3570_000);
    expect(cutoffOf(40_000, 0, 30_000)).toBe(20_000);
    expect(cutoffOf(10_000, 0, 0)).toBe(10_000);
  });

  it('refresh-ahead starts aheadMs before the cutoff, never before half the usable life', () => {
    expect(refreshStartOf(3570_000, 0, 60_000)).toBe(3510_000);
    expect(refreshStartOf(100_000, 0, 60_000)).toBe(50_000);
  });

  it('after a refresh starts, calls wait an eighth of the time left, from 100 ms to 5 s', () => {
    expect(nextRefreshAttemptAfter(1_000_000, 0)).toBe(5_000);
    expect(nextRefreshAttemptAfter(8_000, 0)).toBe(1_000);
    expect(nextRefreshAttemptAfter(500, 0)).toBe(100);
  });

  it('pacing after consecutive failures: none, then 1 s doubling to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(pauseAfter)).toEqual([0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});
