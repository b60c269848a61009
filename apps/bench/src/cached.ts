// 1. Cached token: calls per second of each library's cached-token getter, next to a
// plain `async` Map lookup (the physical floor of "return a cached value from an async function").
import { startTokenServer } from '@tokenkit/test-utils';
import { measureGetToken } from '../../../packages/core/bench/get-token.ts';
import { measureCachedTelemetry } from '../../../packages/opentelemetry/bench/cached.ts';
import type { Library } from './libraries.ts';
import { median, sleep } from './stats.ts';

export interface CachedRow {
  id: string;
  label: string;
  kind: 'reference' | 'tokenkit' | 'peer';
  /** Median calls per second. */
  rate: number;
  /** rate / the Map lookup's rate in the same rounds. */
  ratio: number;
  note?: string;
}

export interface CachedResult {
  rows: CachedRow[];
  rounds: number;
  calls: number;
  /** Map lookup rate in core's rounds and in the peers' rounds: how far the two sets agree. */
  mapLookupRates: number[];
}

/** Calls per CPU-second of this process, as core's benchmark counts them (steadier than wall time on a shared machine). */
async function rate(fn: () => Promise<unknown>, calls: number): Promise<number> {
  const cpu = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const used = process.cpuUsage(cpu);
  return calls / ((used.user + used.system) / 1e6);
}

const percentOf = (part: number, whole: number) => `${Math.round((part / whole) * 100)} %`;

/** Calls per wall-clock second: for calls that wait on the network. */
async function wallRate(fn: () => Promise<unknown>, calls: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return calls / ((performance.now() - started) / 1000);
}

/**
 * tokenkit's figures come from core's own benchmark (`measureGetToken`); the
 * peers run in their own interleaved rounds with a Map lookup of their own, so
 * every ratio compares with a lookup measured alongside it.
 */
export async function measureCached(
  peers: Library[],
  { calls = 2_000_000, rounds = 7, uncachedCalls = 2_000 } = {},
): Promise<CachedResult> {
  const core = await measureGetToken({ calls, rounds });
  const rows: CachedRow[] = [
    { id: 'map', label: 'async Map lookup (reference)', kind: 'reference', rate: core.mapLookup, ratio: 1 },
    {
      id: 'tokenkit-getToken',
      label: '@tokenkit/core getToken()',
      kind: 'tokenkit',
      rate: core.getToken,
      ratio: core.ratio,
    },
    {
      id: 'tokenkit-authorizationHeader',
      label: '@tokenkit/core authorizationHeader()',
      kind: 'tokenkit',
      rate: core.authorizationHeader,
      ratio: core.authorizationHeader / core.mapLookup,
      note: 'what the adapters call',
    },
  ];
  // With @tokenkit/opentelemetry, in rounds of its own with their own Map lookup.
  const otel = await measureCachedTelemetry({ calls, rounds });
  rows.push(
    {
      id: 'tokenkit-otel-no-sdk',
      label: '@tokenkit/core getToken() + @tokenkit/opentelemetry',
      kind: 'tokenkit',
      rate: otel.noSdk,
      ratio: otel.noSdk / otel.mapLookup,
      note: `no OpenTelemetry SDK registered; ${percentOf(otel.noSdk, otel.withoutPackage)} of getToken() without it in the same rounds`,
    },
    {
      id: 'tokenkit-otel-sdk',
      label: '@tokenkit/core getToken() + @tokenkit/opentelemetry',
      kind: 'tokenkit',
      rate: otel.withSdk,
      ratio: otel.withSdk / otel.mapLookup,
      note: `with the OpenTelemetry SDK recording; ${percentOf(otel.withSdk, otel.withoutPackage)} of getToken() without it`,
    },
  );

  const tokenServer = await startTokenServer();
  try {
    const endpoints = { tokenUrl: tokenServer.url, apiOrigin: 'http://127.0.0.1:9' };
    const cached: { library: Library; getToken: () => Promise<unknown> }[] = [];
    const uncached: { library: Library; getToken: () => Promise<unknown> }[] = [];
    for (const library of peers) {
      const contender = await library.setup(endpoints);
      if (contender.getToken === undefined) continue;
      await contender.getToken(); // fills the cache
      const before = tokenServer.count;
      await contender.getToken();
      (tokenServer.count === before ? cached : uncached).push({ library, getToken: contender.getToken });
    }
    const map = new Map([['token', { accessToken: 'x' }]]);
    const lookup = async (key: string) => map.get(key);
    const contenders = [
      { id: 'map', fn: () => lookup('token') },
      ...cached.map((c) => ({ id: c.library.id, fn: c.getToken })),
    ];
    const samples = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
    for (const c of contenders) await rate(c.fn, Math.max(1, Math.floor(calls / 10))); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const c of round % 2 === 0 ? contenders : [...contenders].reverse())
        samples.get(c.id)!.push(await rate(c.fn, calls));
    }
    const mapRate = median(samples.get('map')!);
    for (const c of cached) {
      const r = median(samples.get(c.library.id)!);
      rows.push({ id: c.library.id, label: c.library.label, kind: 'peer', rate: r, ratio: r / mapRate });
    }
    // The rounds above never left the microtask queue, so no timer ran: let the
    // keep-alive timers of both ends fire before reusing a pooled connection.
    await sleep(1000);
    for (const c of uncached) {
      // No cache: every call is a token request over loopback, so far fewer calls.
      const before = tokenServer.count;
      const r = await wallRate(c.getToken, uncachedCalls);
      const tokenRequests = tokenServer.count - before;
      rows.push({
        id: c.library.id,
        label: c.library.label,
        kind: 'peer',
        rate: r,
        ratio: r / mapRate,
        note: `no cache of its own: ${tokenRequests} token requests for ${uncachedCalls} calls, per wall-clock second`,
      });
    }
    return { rows, rounds, calls, mapLookupRates: [core.mapLookup, mapRate, otel.mapLookup] };
  } finally {
    await tokenServer.close();
  }
}
