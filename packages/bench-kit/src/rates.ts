// Calls per second of cheap async functions (cached-token getters, a Map lookup), measured so that
// the figures of different contenders compare: all of them in the same rounds of the same process,
// the order rotating from round to round.
import { median } from './stats.ts';

/**
 * The order of round `round` of `rounds`: `items` rotated so that, over the rounds, each item runs early in some
 * and late in others, the shifts spread evenly over the items (none always first, on a fresh heap and a quiet
 * machine; none always right after the same other one, collecting its garbage).
 *
 * @example
 * ```ts
 * rotation(['a', 'b', 'c'], 1, 3); // ['b', 'c', 'a']
 * ```
 */
export function rotation<T>(items: readonly T[], round: number, rounds: number): T[] {
  if (items.length === 0) return [];
  const shift = Math.floor((round * items.length) / Math.max(1, rounds)) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** One contender of a rate measurement. */
export interface RateContender {
  id: string;
  /** One call; the measurement awaits it. */
  call: () => Promise<unknown>;
}

/** What {@link interleavedRates} measured. */
export interface RatesResult {
  /** Median calls per CPU-second over the rounds, by contender id. */
  rates: Map<string, number>;
  /** Every round's rate, by contender id, in round order. */
  samples: Map<string, number[]>;
  rounds: number;
  /** Awaited calls per contender and round. */
  calls: number;
}

/**
 * Calls per CPU-second of this process for `calls` sequential awaited calls. CPU time rather than wall
 * time: on a shared machine wall time also counts whatever else ran meanwhile, and the loop is
 * single-threaded, so the process's CPU time is its work.
 *
 * @example
 * ```ts
 * const perSecond = await cpuRate(() => tokens.getToken(), 1_000_000);
 * ```
 */
export async function cpuRate(call: () => Promise<unknown>, calls: number): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < calls; i++) await call();
  const used = process.cpuUsage(started);
  return calls / ((used.user + used.system) / 1e6);
}

/**
 * Measures every contender in the same rounds: a warm-up of `warmupCalls` calls each (default: a whole round's,
 * unmeasured: process CPU time counts the JIT's background compiler threads too, busy for a while after the
 * first calls, which would charge whichever contender runs first), then
 * `rounds` rounds in which each contender makes `calls` awaited calls in turn, in the order of
 * {@link rotation}. Ratios between the medians compare like with like.
 *
 * @example
 * ```ts
 * const { rates } = await interleavedRates(
 *   [
 *     { id: 'map', call: () => lookup('token') },
 *     { id: 'getToken', call: () => tokens.getToken() },
 *   ],
 *   { calls: 2_000_000, rounds: 7 },
 * );
 * console.log(rates.get('getToken')! / rates.get('map')!);
 * ```
 */
export async function interleavedRates(
  contenders: readonly RateContender[],
  {
    calls,
    rounds,
    warmupCalls = calls,
  }: {
    calls: number;
    rounds: number;
    warmupCalls?: number;
  },
): Promise<RatesResult> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
  if (samples.size !== contenders.length) throw new Error('interleavedRates: contender ids must differ');
  for (const c of contenders) await cpuRate(c.call, warmupCalls);
  for (let round = 0; round < rounds; round++) {
    for (const c of rotation(contenders, round, rounds)) samples.get(c.id)!.push(await cpuRate(c.call, calls));
  }
  const rates = new Map([...samples].map(([id, xs]) => [id, median(xs)]));
  return { rates, samples, rounds, calls };
}
