// 4. Expiry cliff: a steady request stream while 5-second tokens come and go at a
// token endpoint that takes 300 ms to answer. The servers run in a child process
// on the other core, so this process's event loop measures only the clients.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fetchStaticHeader, type Library, type SetupOptions } from './libraries.ts';
import { quantileSorted, sleep } from './stats.ts';

export interface CliffSettings {
  durationMs: number;
  /** One request per stream every this many ms (fired without waiting for the previous one). */
  intervalMs: number;
  expiresIn: number;
  latencyMs: number;
  /** A request at least this slow waited on the token endpoint (unless the static twin stalled at the same time). */
  waitThresholdMs: number;
  /** A static-twin request at least this slow marks a stall of the machine or process (its p99 is a few ms). */
  stallThresholdMs: number;
}

export const TOKENKIT_CLIFF_OPTIONS = { refreshSkewSeconds: 1, refreshAheadSeconds: 2 } as const;
/** simple-oauth2's expiration window in this run, scaled like tokenkit's skew. */
export const SIMPLE_OAUTH2_CLIFF_WINDOW = 1;

export interface CliffRow {
  library: Library;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  /**
   * Requests slower than the wait threshold while the static-header twin was not
   * stalled: they waited on the token endpoint. (For the twin itself: 0.)
   */
  waits: number;
  /** Requests slower than the threshold during a stall the static-header twin saw too (the machine or process paused). */
  stalled: number;
  /** Requests the API answered 401: an expired token was sent (the API accepts every unexpired token). */
  expiredSent: number;
  /** Requests whose caller did not end with a 200. */
  failed: number;
  tokenRequests: number;
  /** Per request: start (ms since the run began) and latency (ms). */
  samples: { start: Float64Array; latency: Float64Array };
}

export interface CliffResult {
  settings: CliffSettings;
  rows: CliffRow[];
  /** Event-loop utilization of the clients' process per group (0..1): near 1, latencies measure queueing. */
  utilization: Record<string, number>;
}

interface Stream {
  library: Library;
  get: (path: string) => Promise<number>;
  start: number[];
  latency: number[];
  status: number[];
  fired: number;
}

type Endpoints = Record<string, { tokenUrl: string; apiOrigin: string }>;
type Stats = Record<string, { tokenRequests: number; apiRequests: number; unauthorized: number; ok: number }>;

function request<T>(child: ChildProcess, type: string, answer: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string } & Record<string, unknown>) => {
      if (message.type !== answer) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => reject(new Error(`cliff server process exited with ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type !== '') child.send({ type });
  });
}

/**
 * Runs one group per HTTP client (its static-header twin, the tokenkit adapter and
 * the peers built on it) after another: within a group every stream shares the
 * same event loop at the same time, so each compares fairly with its twin, and
 * the loop stays far from saturation (see `utilization`).
 */
export async function measureCliff(libraries: Library[], settings: CliffSettings): Promise<CliffResult> {
  const specs = libraries.map((l) => ({
    id: l.id,
    expiresIn: l.kind === 'static' ? 3600 : settings.expiresIn,
    latencyMs: settings.latencyMs,
  }));
  const child = fork(fileURLToPath(new URL('./cliff-servers.ts', import.meta.url)), [JSON.stringify(specs)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { endpoints } = await request<{ endpoints: Endpoints }>(child, '', 'ready');
    const groups = new Map<string, Library[]>();
    for (const library of libraries) {
      const group = groups.get(library.client) ?? [];
      group.push(library);
      groups.set(library.client, group);
    }
    const rows: CliffRow[] = [];
    const utilization: Record<string, number> = {};
    for (const [client, group] of groups) {
      const result = await runGroup(child, endpoints, group, settings);
      rows.push(...result.rows);
      utilization[client] = result.utilization;
    }
    // Grouped by HTTP client: the static twin first, then tokenkit, then the peers.
    const rank = { static: 0, tokenkit: 1, peer: 2 };
    const clients = [...groups.keys()];
    rows.sort(
      (a, b) =>
        clients.indexOf(a.library.client) - clients.indexOf(b.library.client) ||
        rank[a.library.kind] - rank[b.library.kind],
    );
    return { settings, rows, utilization };
  } finally {
    if (child.connected) child.send({ type: 'close' });
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => child.kill(), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function runGroup(
  child: ChildProcess,
  endpoints: Endpoints,
  libraries: Library[],
  settings: CliffSettings,
): Promise<{ rows: CliffRow[]; utilization: number }> {
  const streams: Stream[] = [];
  for (const library of libraries) {
    const ep = endpoints[library.id]!;
    const options: SetupOptions = {};
    if (library.kind === 'tokenkit') options.tokenkit = { ...TOKENKIT_CLIFF_OPTIONS };
    if (library.id === 'simple-oauth2') options.expirationWindowSeconds = SIMPLE_OAUTH2_CLIFF_WINDOW;
    if (library.kind === 'static') options.staticHeader = await fetchStaticHeader(ep.tokenUrl);
    const contender = await library.setup(ep, options);
    streams.push({ library, get: contender.get, start: [], latency: [], status: [], fired: 0 });
  }
  // Warm every cache (and connection) first: the cold start is measurement 3, not this one.
  await Promise.all(streams.map((s) => s.get('warmup')));
  const before = (await request<{ stats: Stats }>(child, 'stats', 'stats')).stats;

  const inflight = new Set<Promise<void>>();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  // Each stream fires once per interval, the streams spread evenly across it: requests
  // fired at the same instant would race for the socket, and the one with more
  // async steps before its write would always queue behind the other.
  const slot = settings.intervalMs / streams.length;
  for (let k = 0; ; k++) {
    const due = k * slot;
    if (due >= settings.durationMs) break;
    const now = performance.now() - t0;
    if (due > now) await sleep(due - now);
    const stream = streams[k % streams.length]!;
    const started = performance.now();
    stream.fired++;
    const p = stream.get(`payments/${k}`).then((status) => {
      stream.start.push(started - t0);
      stream.latency.push(performance.now() - started);
      stream.status.push(status);
      inflight.delete(p);
    });
    inflight.add(p);
  }
  const utilization = performance.eventLoopUtilization(elu0).utilization;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(inflight), new Promise((resolve) => (timer = setTimeout(resolve, 30_000)))]);
  clearTimeout(timer);
  const after = (await request<{ stats: Stats }>(child, 'stats', 'stats')).stats;

  // Windows in which the static twin was stalled: a slow request then is the machine's doing, not the token endpoint's.
  const twin = streams.find((s) => s.library.kind === 'static');
  const stalls: [number, number][] = [];
  if (twin) {
    twin.latency.forEach((l, i) => {
      if (l >= settings.stallThresholdMs) stalls.push([twin.start[i]!, twin.start[i]! + l]);
    });
  }
  const inStall = (start: number, latency: number) =>
    stalls.some(([from, to]) => start <= to && start + latency >= from);

  const rows = streams.map((s): CliffRow => {
    const sorted = [...s.latency].sort((a, b) => a - b);
    let waits = 0;
    let stalled = 0;
    s.latency.forEach((l, i) => {
      if (l < settings.waitThresholdMs) return;
      if (s === twin || inStall(s.start[i]!, l)) stalled++;
      else waits++;
    });
    const a = after[s.library.id]!;
    const b = before[s.library.id]!;
    return {
      library: s.library,
      requests: s.latency.length,
      p50: quantileSorted(sorted, 0.5),
      p99: quantileSorted(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? Number.NaN,
      waits,
      stalled,
      expiredSent: a.unauthorized - b.unauthorized,
      failed: s.status.filter((st) => st !== 200).length + (s.fired - s.latency.length), // unanswered after 30 s count as failed
      tokenRequests: a.tokenRequests - b.tokenRequests,
      samples: { start: Float64Array.from(s.start), latency: Float64Array.from(s.latency) },
    };
  });
  return { rows, utilization };
}
