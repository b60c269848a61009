import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.ts';

/** Two hand-moved sources standing in for the wall clock and the monotonic clock. */
function sources() {
  const s = { wall: 1_700_000_000_000, mono: 5_000 };
  return {
    s,
    clock: systemClock(
      () => s.wall,
      () => s.mono,
    ),
  };
}

describe('systemClock', () => {
  it('counts on the monotonic clock: a wall clock stepping back two hours does not move now() back', () => {
    const { s, clock } = sources();
    const before = clock.now();
    s.mono += 1_000;
    s.wall -= 2 * 3600_000 - 1_000;
    clock.resync();
    expect(clock.now() - before).toBe(1_000);
  });

  it('learns the time a suspend hid from the monotonic clock, so tokens expire on time after a resume', () => {
    const { s, clock } = sources();
    const before = clock.now();
    s.wall += 3600_000; // an hour suspended: the monotonic clock did not move
    expect(clock.now() - before).toBe(0); // not yet resynced
    clock.resync();
    expect(clock.now() - before).toBe(3600_000);
  });

  it('ignores jitter below a second between the two clocks', () => {
    const { s, clock } = sources();
    const before = clock.now();
    s.wall += 500;
    clock.resync();
    expect(clock.now() - before).toBe(0);
  });

  it('wall() is the wall clock, for what is stored and signed', () => {
    const { s, clock } = sources();
    s.wall -= 10_000;
    expect(clock.wall()).toBe(s.wall);
  });
});
