// Turns the measurements into tables (terminal and Markdown), target checks, charts
// and docs/benchmarks.md.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { CachedResult } from './cached.ts';
import type { CliffResult, CliffRow } from './cliff.ts';
import type { FleetResult } from './fleet.ts';
import type { Library } from './libraries.ts';
import type { Machine } from './machine.ts';
import type { MemoryResult } from './memory.ts';
import type { OverheadRow } from './overhead.ts';
import { renderMarkdown, type Table } from '@tokenkit/bench-kit';
import { formatBytes, formatMs, formatRate, mark, percent } from './stats.ts';
import type { SectionResult } from './sections.ts';
import type { StormRow } from './storm.ts';
import { barChart, latencyChart, type BarKind } from './svg.ts';

export interface Results {
  quick: boolean;
  machine: Machine;
  startedAt: Date;
  durationS: number;
  libraries: Library[];
  cached?: CachedResult;
  overhead?: OverheadRow[];
  storm?: StormRow[];
  cliff?: CliffResult;
  fleet?: FleetResult;
  memory?: MemoryResult;
  /** The packages' own sections (sections.ts), in their order. */
  extra?: SectionResult[];
  /** Things left out of this run, and why. */
  notes: string[];
  errors: string[];
}

export interface Target {
  measure: string;
  target: string;
  result: string;
  met: boolean;
}

const CACHED_TARGET = 0.8;
const P99_TOLERANCE = 1.1;

// ---- tables ------------------------------------------------------------------

export function cachedTable(r: CachedResult): Table {
  const tokenkit = r.rows.find((row) => row.id === 'tokenkit-getToken')!;
  const peers = r.rows.filter((row) => row.kind === 'peer');
  return {
    title: '1. Cached token: calls per second',
    note:
      `Calls per CPU-second of the process, median of ${r.rounds} rounds of ${r.calls.toLocaleString('en')} awaited calls per getter, after the cache is filled. ` +
      'Every getter and an `async` Map lookup ran in the same rounds of one process, taking turns (the order rotating from round to round), ' +
      'so "vs lookup" compares each getter with the same lookup figure.',
    columns: ['getter', 'calls/s', 'vs lookup', 'rounds (M/s)', 'target'],
    rows: r.rows.map((row) => [
      row.label + (row.note ? ` (${row.note})` : ''),
      formatRate(row.rate),
      percent(row.ratio),
      row.samples.map((x) => (x / 1e6).toFixed(1)).join(' '),
      row === tokenkit
        ? `${mark(row.ratio >= CACHED_TARGET)} ≥ 80 %, ${mark(peers.every((p) => row.ratio > p.ratio))} ahead of every peer`
        : '',
    ]),
  };
}

export function overheadTable(rows: OverheadRow[]): Table {
  return {
    title: '2. Request overhead per adapter',
    note:
      `${rows[0]?.requests.toLocaleString('en') ?? '?'} sequential loopback GETs per variant and round through the adapter and through the same client with a static Authorization header, ` +
      "the two taking turns (@tokenkit/bench-kit's paired harness, run by each adapter's bench/overhead.ts, each in a fresh process); ratio = static / adapter (1 = no overhead) as that bench computes it " +
      '(per-request medians; Apollo: paired blocks), median over the rounds. µs/request: total time of a round / requests, median round.',
    columns: ['adapter', 'µs/request', 'static µs/request', 'median ratio', 'rounds', 'target', 'measured by'],
    rows: rows.map((row) => [
      row.library.label,
      Number.isFinite(row.adapterMicros) ? row.adapterMicros.toFixed(1) : 'n/a',
      Number.isFinite(row.staticMicros) ? row.staticMicros.toFixed(1) : 'n/a',
      row.medianRatio.toFixed(3),
      row.rounds.map((x) => x.ratio.toFixed(2)).join(' '),
      `${mark(row.medianRatio >= row.target)} ≥ ${row.target}`,
      row.source,
    ]),
  };
}

export function stormTable(rows: StormRow[]): Table {
  const first = rows[0];
  const repetitions = first?.runs.length ?? 0;
  const twinOf = (row: StormRow) =>
    rows.find((r) => r.library.kind === 'static' && r.library.client === row.library.client);
  return {
    title: '3. Cold-start storm',
    note:
      `${first?.requests.toLocaleString('en') ?? '?'} concurrent requests on a cold cache; the token endpoint takes ${first?.latencyMs ?? '?'} ms to answer. ` +
      `Each library ${repetitions === 1 ? 'once' : `${repetitions} times`}, each time in a fresh process (a cold JIT for every library), the order rotating from repetition to repetition; ` +
      'the servers run in the parent process. Grouped by HTTP client, its static-header twin first: what the same client takes for the same requests with no token logic and no token wait. ' +
      '"API connections": TCP connections the API accepted (median). "client CPU": CPU time of the client\'s process during the storm (median), ' +
      'its work whatever else the machine ran: on a busy machine it compares better than the times.',
    columns: [
      'library',
      'token requests',
      'failed requests',
      'API connections',
      'all answered after (median)',
      'min – max',
      'vs static twin',
      'client CPU',
      'target',
    ],
    rows: rows.map((row) => {
      const twin = twinOf(row);
      const diff = twin && twin !== row ? row.medianMs - twin.medianMs : undefined;
      const vs = diff === undefined ? '' : `${diff < 0 ? '-' : '+'}${Math.abs(diff).toFixed(0)} ms`;
      return [
        row.library.label,
        row.library.kind === 'static' ? '' : String(row.tokenRequests),
        String(row.failed),
        String(row.connections),
        formatMs(row.medianMs),
        `${formatMs(row.minMs)} – ${formatMs(row.maxMs)}`,
        vs,
        formatMs(row.cpuMs),
        row.library.kind === 'tokenkit' ? `${mark(row.tokenRequests === 1)} exactly 1` : '',
      ];
    }),
  };
}

export function staticTwin(rows: CliffRow[], row: CliffRow): CliffRow | undefined {
  return rows.find((r) => r.library.kind === 'static' && r.library.client === row.library.client);
}

export function cliffTable(r: CliffResult): Table {
  const s = r.settings;
  return {
    title: '4. Expiry cliff',
    note:
      `${(s.durationMs / 1000).toFixed(0)} s per library, one request every ${s.intervalMs} ms (fired without waiting for the previous one), ` +
      'one group per HTTP client after another (its static-header twin, the tokenkit adapter and the peers built on it run at the same time), ' +
      `tokens live ${s.expiresIn} s, the token endpoint answers after ${s.latencyMs} ms, the API rejects expired tokens. ` +
      `"waits": requests slower than ${s.waitThresholdMs} ms, i.e. that waited on the token endpoint; "stalled": requests as slow during a pause the static-header twin saw too ` +
      `(one of its requests took ≥ ${s.stallThresholdMs} ms at the same time: the machine or process paused, not the token logic). "expired sent": requests the API answered 401. ` +
      `"p99 vs static": p99 / p99 of the same HTTP client with a static header.`,
    columns: [
      'library',
      'requests',
      'p50',
      'p99',
      'max',
      'waits',
      'stalled',
      'expired sent',
      'failed',
      'token requests',
      'p99 vs static',
      'target',
    ],
    footnotes: [
      `Event-loop utilization of the clients' process per group: ${Object.entries(r.utilization)
        .map(([client, u]) => `${client} ${percent(u)}`)
        .join(', ')} (far from 100 %: latencies are not queueing behind each other).`,
    ],
    rows: r.rows.map((row) => {
      const twin = staticTwin(r.rows, row);
      const vs = twin && row.library.kind !== 'static' ? row.p99 / twin.p99 : undefined;
      const target =
        row.library.kind === 'tokenkit' && vs !== undefined
          ? `${mark(vs <= P99_TOLERANCE)} p99 ≤ +10 %, ${mark(row.waits === 0)} 0 waits, ${mark(row.expiredSent === 0)} 0 expired`
          : '';
      return [
        row.library.label,
        String(row.requests),
        formatMs(row.p50),
        formatMs(row.p99),
        formatMs(row.max),
        row.library.kind === 'static' ? '' : String(row.waits),
        String(row.stalled),
        String(row.expiredSent),
        String(row.failed),
        String(row.tokenRequests),
        vs === undefined ? '' : `${vs.toFixed(2)}×`,
        target,
      ];
    }),
  };
}

export function fleetTable(r: FleetResult): Table {
  const s = r.settings;
  const withStore = r.runs.find((run) => run.withStore);
  const without = r.runs.find((run) => !run.withStore);
  return {
    title: `5. Fleet: ${s.processes} processes, one client`,
    note:
      `Each process calls getToken() every ${s.intervalMs} ms for ${s.lifetimes} token lifetimes of ${s.tokenLifetimeSeconds} s, from a cold start, ` +
      "with tokenkit's default skew and refresh-ahead (on a token this short, each is refreshed once half its usable life has passed). " +
      'Measured by packages/redis/bench/fleet.ts.',
    columns: ['store', 'processes', 'token requests', 'per token lifetime', 'getToken() calls', 'failed calls'],
    rows: r.runs.map((run) => [
      run.withStore ? '@tokenkit/redis' : 'memory only',
      String(run.processes),
      String(run.tokenRequests),
      run.requestsPerLifetime.toFixed(1),
      run.calls.toLocaleString('en'),
      String(run.failures),
    ]),
    footnotes: [
      ...(withStore && without
        ? [
            `@tokenkit/redis: ${(without.tokenRequests / Math.max(1, withStore.tokenRequests)).toFixed(1)}× fewer token requests.`,
          ]
        : []),
      ...(r.warm
        ? [
            `Warm cache with the Redis store attached: ${formatRate(r.warm.medianRedisPerSecond)} getToken()/CPU-s vs ${formatRate(r.warm.medianMemoryPerSecond)} memory only ` +
              `(ratio ${r.warm.ratio.toFixed(2)}); Redis commands during ${(r.warm.calls * r.warm.rounds.length).toLocaleString('en')} warm calls: ${r.warm.redisCommandsDuringWarmCalls}.`,
          ]
        : []),
      ...(r.skipped ? [r.skipped] : []),
    ],
  };
}

export function memoryTable(r: MemoryResult): Table {
  const rows: string[][] = [
    ['process start (after gc)', formatBytes(r.start), ''],
    ['1 provider, 1 token cached', formatBytes(r.beforeCalls), ''],
    [
      `after ${r.settings.calls.toLocaleString('en')} getToken() calls`,
      formatBytes(r.afterCalls),
      formatBytes(r.afterCalls - r.beforeCalls),
    ],
  ];
  let previous = r.tenantsStart;
  r.rounds.forEach((round, i) => {
    rows.push([
      `round ${i + 1}: ${r.settings.tenants.toLocaleString('en')} providers alive, each with a token`,
      formatBytes(round.alive),
      formatBytes(round.alive - previous),
    ]);
    rows.push([`round ${i + 1}: all dropped`, formatBytes(round.dropped), formatBytes(round.dropped - previous)]);
    previous = round.dropped;
  });
  rows.push(['timers left after dropping them', String(r.timers), '']);
  return {
    title: '6. Memory (heapUsed after gc)',
    note: 'A child process under `node --expose-gc`; the token server runs in the parent so its records do not count. Tenants differ by scope, so each provider has its own cache key and token.',
    columns: ['state', 'heap', 'change'],
    rows,
    footnotes: [
      `About ${formatBytes(tenantGrowth(r).perProvider)} per live provider with its token (rounds after the first).`,
    ],
  };
}

// ---- targets -----------------------------------------------------------------

/**
 * Over the tenant rounds after the first (the first also warms up code and
 * connection pools): heap still held after dropping (`kept`) and heap the live
 * providers took (`used`), summed. A leak keeps about all it used.
 */
export function tenantGrowth(m: MemoryResult): { kept: number; used: number; perProvider: number } {
  let kept = 0;
  let used = 0;
  const later = m.rounds.length > 1 ? m.rounds.slice(1) : m.rounds;
  const prevOf = (i: number) => (m.rounds.length > 1 ? m.rounds[i]!.dropped : m.tenantsStart);
  later.forEach((round, i) => {
    kept += round.dropped - prevOf(i);
    used += round.alive - prevOf(i);
  });
  return { kept, used, perProvider: used / later.length / m.settings.tenants };
}

export function targets(res: Results): Target[] {
  const out: Target[] = [];
  if (res.cached) {
    const tk = res.cached.rows.find((r) => r.id === 'tokenkit-getToken')!;
    const peers = res.cached.rows.filter((r) => r.kind === 'peer');
    const best = peers.reduce<(typeof peers)[number] | undefined>(
      (a, b) => (a === undefined || b.ratio > a.ratio ? b : a),
      undefined,
    );
    out.push({
      measure: 'cached getToken()',
      target: '≥ 80 % of an async Map lookup',
      result: percent(tk.ratio),
      met: tk.ratio >= CACHED_TARGET,
    });
    if (best) {
      out.push({
        measure: 'cached getToken()',
        target: 'ahead of every peer',
        result: `${percent(tk.ratio)} vs best peer ${percent(best.ratio)} (${best.label})`,
        met: tk.ratio > best.ratio,
      });
    }
  }
  for (const row of res.overhead ?? []) {
    out.push({
      measure: `overhead ${row.library.label}`,
      target: `median ratio ≥ ${row.target}`,
      result: row.medianRatio.toFixed(3),
      met: row.medianRatio >= row.target,
    });
  }
  for (const row of (res.storm ?? []).filter((r) => r.library.kind === 'tokenkit')) {
    out.push({
      measure: `cold storm ${row.library.label}`,
      target: '1 token request',
      result: String(row.tokenRequests),
      met: row.tokenRequests === 1,
    });
  }
  if (res.cliff) {
    for (const row of res.cliff.rows.filter((r) => r.library.kind === 'tokenkit')) {
      const twin = staticTwin(res.cliff.rows, row);
      const vs = twin ? row.p99 / twin.p99 : Number.NaN;
      out.push({
        measure: `expiry cliff ${row.library.label}`,
        target: 'p99 ≤ static +10 %, 0 waits, 0 expired',
        result: `p99 ${formatMs(row.p99)} vs ${twin ? formatMs(twin.p99) : 'n/a'} static (${vs.toFixed(2)}×), ${row.waits} waits, ${row.expiredSent} expired`,
        met: vs <= P99_TOLERANCE && row.waits === 0 && row.expiredSent === 0,
      });
    }
  }
  if (res.memory) {
    const m = res.memory;
    const calls = m.afterCalls - m.beforeCalls;
    out.push({
      measure: 'memory, 1,000,000 getToken()',
      target: 'no growth (< 64 KiB)',
      result: formatBytes(calls),
      met: calls < 64 * 1024,
    });
    const { kept, used } = tenantGrowth(m);
    out.push({
      measure: `memory, ${m.settings.tenants.toLocaleString('en')} tenants created and dropped ×${m.rounds.length}`,
      target: 'bounded: rounds after the first keep < 10 % of what their providers used; no timers left',
      result: `${formatBytes(kept)} kept of ${formatBytes(used)} used; ${m.timers} timers`,
      met: kept < used * 0.1 && m.timers === 0,
    });
  }
  return out;
}

export function targetsTable(list: Target[]): Table {
  return {
    title: 'Targets',
    columns: ['measure', 'target', 'result', 'met'],
    rows: list.map((t) => [t.measure, t.target, t.result, mark(t.met)]),
  };
}

// ---- charts and the Markdown report --------------------------------------------

const kindOf = (kind: string): BarKind =>
  kind === 'reference' ? 'reference' : kind === 'tokenkit' ? 'tokenkit' : kind === 'static' ? 'static' : 'peer';

export function charts(res: Results): Map<string, string> {
  const files = new Map<string, string>();
  if (res.cached) {
    files.set(
      'cached.svg',
      barChart({
        title: 'Cached token: calls per second (higher is better)',
        subtitle: 'median of interleaved rounds; green: async Map lookup, blue: tokenkit, amber: peers',
        bars: res.cached.rows.map((r) => ({
          label: r.label,
          value: r.rate,
          kind: kindOf(r.kind),
          text: `${formatRate(r.rate)}/s (${percent(r.ratio)})`,
        })),
      }),
    );
  }
  if (res.storm) {
    files.set(
      'storm.svg',
      barChart({
        title: `Cold-start storm: token requests for ${res.storm[0]?.requests ?? 1000} concurrent requests (lower is better)`,
        subtitle: 'log scale',
        log: true,
        bars: res.storm
          .filter((r) => r.library.kind !== 'static')
          .map((r) => ({ label: r.library.label, value: r.tokenRequests, kind: kindOf(r.library.kind) })),
      }),
    );
  }
  if (res.cliff) {
    const s = res.cliff.settings;
    for (const row of res.cliff.rows) {
      files.set(
        `cliff-${row.library.id}.svg`,
        latencyChart({
          title: `${row.library.label}: request latency over ${(s.durationMs / 1000).toFixed(0)} s`,
          subtitle: `p50 ${formatMs(row.p50)}, p99 ${formatMs(row.p99)}, max ${formatMs(row.max)}; ${row.waits} waits${row.stalled ? ` (+${row.stalled} stalled)` : ''}, ${row.expiredSent} expired tokens sent, ${row.tokenRequests} token requests (${s.expiresIn} s tokens, ${s.latencyMs} ms token endpoint)`,
          kind: kindOf(row.library.kind),
          start: row.samples.start,
          latency: row.samples.latency,
          durationMs: s.durationMs,
          thresholdMs: s.waitThresholdMs,
        }),
      );
    }
  }
  if (res.fleet && res.fleet.runs.length > 0) {
    files.set(
      'fleet.svg',
      barChart({
        title: `Fleet of ${res.fleet.settings.processes} processes: token requests per token lifetime (lower is better)`,
        bars: res.fleet.runs.map((r) => ({
          label: r.withStore ? '@tokenkit/redis' : 'memory only',
          value: r.requestsPerLifetime,
          kind: r.withStore ? 'tokenkit' : 'static',
          text: r.requestsPerLifetime.toFixed(1),
        })),
      }),
    );
  }
  return files;
}

/**
 * Why the storm's times differ between clients that all make one token request: connections, not token logic.
 * Found with \`node --cpu-prof\` and the kernel's TCP counters (see apps/bench/README.md).
 */
const STORM_PROSE =
  'The time is mostly TCP connection setup: a library that releases all its waiting requests at once opens a ' +
  'connection for each, as every static twin does too, so compare each library with its static twin (and on a busy ' +
  'machine by client CPU). ' +
  "axios-token-interceptor's token cache (the axios-oauth-client row) releases its waiters one per event-loop turn " +
  "(the `lock` package's setImmediate hand-off), so over loopback most of its requests find a keep-alive socket an " +
  'earlier one has just freed and it opens a handful of connections; against a remote API, where no response comes ' +
  'back within a loop turn, it would open as many as the others.';

export function writeReport(res: Results, tables: Table[], docsDir: string): string[] {
  const chartDir = `${docsDir}/benchmarks`;
  mkdirSync(chartDir, { recursive: true });
  for (const old of readdirSync(chartDir)) if (old.endsWith('.svg')) rmSync(`${chartDir}/${old}`);
  const files = charts(res);
  for (const [name, svg] of files) writeFileSync(`${chartDir}/${name}`, `${svg}\n`);
  const img = (name: string, alt: string) => (files.has(name) ? `\n![${alt}](benchmarks/${name})\n` : '');
  const m = res.machine;
  const byTitle = (prefix: string) => tables.find((t) => t.title.startsWith(prefix));
  const section = (prefix: string, extra = '') => {
    const t = byTitle(prefix);
    return t ? `${renderMarkdown(t)}\n${extra}` : '';
  };
  const cliffCharts = res.cliff
    ? res.cliff.rows.map((row) => img(`cliff-${row.library.id}.svg`, `${row.library.label} latency over time`)).join('')
    : '';
  const ordered = ['tokenkit', 'peer', 'static'].flatMap((kind) => res.libraries.filter((l) => l.kind === kind));
  // The packages' own sections (sections.ts), numbered after the six above, each naming the script that wrote it.
  const extraSections = (res.extra ?? [])
    .filter((x) => x.markdown !== undefined)
    .map((x, i) => {
      const command = [x.source, '--markdown', ...(x.section.args ?? [])].join(' ');
      return `### ${7 + i}. ${x.section.title}\n\n${x.markdown}\n\nWritten by \`node ${command}\`.\n`;
    })
    .join('\n');

  const doc = `# Benchmarks

Written by \`pnpm bench\` (apps/bench) on ${res.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC in ${res.durationS.toFixed(0)} s.
tokenkit and its peers ran side by side in the same run, against the same local
servers (a token endpoint and a protected API from \`@tokenkit/test-utils\` on
127.0.0.1; a real \`redis-server\` for the fleet). Re-run it with \`pnpm bench\`
(about ${Math.ceil(res.durationS / 60)} minutes); \`pnpm bench --quick\` runs every measurement
briefly and prints the tables without writing this file. The measuring code is in
apps/bench, in the packages' own \`bench/\` scripts (\`pnpm -F @tokenkit/<x> bench\` runs one on
its own) and in the harness they share, \`@tokenkit/bench-kit\` (packages/bench-kit).${extraSections ? "\nSections 7 and later are written by packages' bench scripts (apps/bench/src/sections.ts)." : ''}

## Machine

| | |
| --- | --- |
| CPU | ${m.cpu} |
| cores | ${m.cores} |
| memory | ${m.memory} |
| Node | ${m.node} |
| OS | ${m.os} |
| load average at start | ${m.load.toFixed(2)} |

${renderMarkdown(targetsTable(targets(res)), '##')}

${res.notes.length ? `Notes on this run:\n\n${res.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
## Results

${section('1.', img('cached.svg', 'cached token calls per second'))}
${section('2.')}
${section('3.', `\n${STORM_PROSE}\n${img('storm.svg', 'token requests in a cold storm')}`)}
${section('4.', `\ntokenkit ran with \`refreshSkewSeconds: 1, refreshAheadSeconds: 2\`: its defaults (30 s and 60 s) scaled to the 5-second token, as an app would set them for tokens this short. Charts: a stroke per ${Math.max(50, (res.cliff?.settings.durationMs ?? 0) / 400).toFixed(0)} ms bucket from its fastest to its slowest request, a line through the bucket medians; log scale.\n${cliffCharts}`)}
${section('5.', img('fleet.svg', 'fleet token requests per lifetime'))}
${section('6.')}
${extraSections}
## How each library was used

Each peer is set up the way its own README shows, with the same client id and
secret, against the same kind of server. The static-header rows are the
baselines of the cold storm and the expiry cliff: the same HTTP clients with a fixed, long-lived token.

| library | how |
| --- | --- |
${ordered.map((l) => `| ${l.label} | ${l.usage.replaceAll('|', '\\|')} |`).join('\n')}

The tokenkit adapters use a provider from \`createTokenProvider({ tokenEndpoint, clientId, clientSecret })\` with its
defaults, except in the expiry cliff (above). openid-client has no token cache:
every getter call and every request is a token request, which is how its README
uses \`clientCredentialsGrant\`; a cache around it would be code the app writes.
`;
  writeFileSync(`${docsDir}/benchmarks.md`, doc.replace(/\n{3,}/g, '\n\n'));
  return [`${docsDir}/benchmarks.md`, ...[...files.keys()].map((f) => `${chartDir}/${f}`)];
}
