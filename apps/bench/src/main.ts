// `pnpm bench [--quick] [--only cached,overhead,storm,cliff,fleet,memory,extra]`
// Measures tokenkit and its peers side by side against local servers, prints the
// tables, and (full run only) writes docs/benchmarks.md with SVG charts.
// Exits non-zero only on errors (an exception, a library that could not run, a
// tokenkit request that failed), never because a timing missed its target.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureCached } from './cached.ts';
import { measureCliff } from './cliff.ts';
import { measureFleet } from './fleet.ts';
import {
  peerLibraries,
  staticLibraries,
  tokenkitLibraries as tokenkit,
  type HttpClient,
  type Library,
} from './libraries.ts';
import { describeMachine } from './machine.ts';
import { measureMemory } from './memory.ts';
import { measureOverheads } from './overhead.ts';
import {
  cachedTable,
  cliffTable,
  fleetTable,
  memoryTable,
  overheadTable,
  stormTable,
  targets,
  targetsTable,
  writeReport,
  type Results,
} from './report.ts';
import { renderText, type Table } from '@tokenkit/bench-kit';
import { mark } from './stats.ts';
import { extraSections, runSection } from './sections.ts';
import { measureStorm } from './storm.ts';

const SECTIONS = ['cached', 'overhead', 'storm', 'cliff', 'fleet', 'memory', 'extra'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const quick = values.quick;
const only = new Set((values.only?.split(',') ?? SECTIONS).map((s) => s.trim()));
for (const s of only)
  if (!SECTIONS.includes(s as Section)) throw new Error(`--only: unknown section ${s} (known: ${SECTIONS.join(', ')})`);

const settings = {
  cached: quick
    ? { calls: 200_000, rounds: 3, uncachedCalls: 200 }
    : { calls: 2_000_000, rounds: 7, uncachedCalls: 2_000 },
  overhead: quick ? { requests: 300, rounds: 5 } : { requests: 5_000, rounds: 7 },
  storm: { concurrency: 1_000, latencyMs: 100, repetitions: quick ? 1 : 5 },
  cliff: {
    durationMs: quick ? 5_500 : 60_000,
    intervalMs: 10,
    expiresIn: 5,
    latencyMs: 300,
    waitThresholdMs: 250,
    stallThresholdMs: 50,
  },
  fleet: quick
    ? { processes: 16, tokenLifetimeSeconds: 3, lifetimes: 1, intervalMs: 10, warmCalls: 100_000, warmRounds: 5 }
    : { processes: 16, tokenLifetimeSeconds: 3, lifetimes: 10, intervalMs: 10, warmCalls: 500_000, warmRounds: 15 },
  memory: quick
    ? { calls: 1_000_000, tenants: 3_000, tenantRounds: 3 }
    : { calls: 1_000_000, tenants: 10_000, tenantRounds: 5 },
};

const started = performance.now();
const clients = new Set<HttpClient>([...tokenkit, ...peerLibraries].map((l) => l.client));
const statics = staticLibraries.filter((l) => clients.has(l.client));
const results: Results = {
  quick,
  machine: describeMachine(),
  startedAt: new Date(),
  durationS: 0,
  libraries: [...tokenkit, ...statics, ...peerLibraries],
  notes: [],
  errors: [],
};
const tables: Table[] = [];

const m = results.machine;
console.log(`tokenkit benchmarks${quick ? ' (quick: short runs, figures are indicative only)' : ''}`);
console.log(`${m.cpu}, ${m.cores} cores, ${m.memory}; Node ${m.node}; ${m.os}; load ${m.load.toFixed(2)}`);

/** tokenkit and static-header requests must all succeed; a peer must at least work once. */
function checkRequests(section: string, rows: { library: Library; failed: number; requests: number }[]): void {
  for (const row of rows) {
    if (row.library.kind !== 'peer' && row.failed > 0) {
      results.errors.push(`${section}: ${row.failed} of ${row.requests} requests through ${row.library.label} failed`);
    } else if (row.library.kind === 'peer' && row.failed === row.requests) {
      results.errors.push(`${section}: ${row.library.label} could not run (every request failed)`);
    }
  }
}

async function section(name: Section, run: () => Promise<Table | undefined>): Promise<void> {
  if (!only.has(name)) return;
  const t0 = performance.now();
  process.stdout.write(`\n[${name}] running...`);
  try {
    const table = await run();
    process.stdout.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    if (table) {
      tables.push(table);
      console.log(renderText(table));
    }
  } catch (error) {
    process.stdout.write(' failed\n');
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    results.errors.push(`${name}: ${message}`);
    console.error(`[${name}] error: ${message}`);
  }
}

await section('cached', async () => {
  results.cached = await measureCached(peerLibraries, settings.cached);
  return cachedTable(results.cached);
});

await section('overhead', async () => {
  const { rows, missing } = await measureOverheads(tokenkit, settings.overhead);
  results.overhead = rows;
  results.notes.push(...missing);
  for (const note of missing) console.log(`note: ${note}`);
  return overheadTable(rows);
});

await section('storm', async () => {
  // One group per HTTP client: its static-header twin (what 1,000 requests cost that client with no token
  // logic), the tokenkit adapter and the peers on that client; the order of the runs rotates (storm.ts).
  const byClient = [...clients].flatMap((client) =>
    [...statics, ...tokenkit, ...peerLibraries].filter((l) => l.client === client),
  );
  results.storm = await measureStorm(byClient, settings.storm);
  checkRequests(
    'storm',
    results.storm.map((row) => ({ library: row.library, failed: row.failed, requests: row.totalRequests })),
  );
  return stormTable(results.storm);
});

await section('cliff', async () => {
  results.cliff = await measureCliff([...tokenkit, ...statics, ...peerLibraries], settings.cliff);
  checkRequests('cliff', results.cliff.rows);
  return cliffTable(results.cliff);
});

await section('fleet', async () => {
  results.fleet = await measureFleet(settings.fleet);
  if (results.fleet.skipped) results.notes.push(results.fleet.skipped);
  for (const run of results.fleet.runs) {
    if (run.failures > 0)
      results.errors.push(
        `fleet (${run.withStore ? 'redis' : 'memory only'}): ${run.failures} getToken() calls failed`,
      );
  }
  return fleetTable(results.fleet);
});

await section('memory', async () => {
  results.memory = await measureMemory(settings.memory);
  return memoryTable(results.memory);
});

await section('extra', async () => {
  results.extra = [];
  for (const extra of extraSections) {
    const result = await runSection(extra, quick);
    results.extra.push(result);
    if (result.skipped !== undefined) {
      results.notes.push(`"${extra.title}" left out: ${result.skipped}`);
      console.log(`\n${extra.title}: left out (${result.skipped})`);
    } else {
      console.log(`\n${extra.title} (${result.source})\n${result.markdown}`);
    }
  }
  return undefined;
});

results.durationS = (performance.now() - started) / 1000;
const checks = targets(results);
if (checks.length > 0) {
  console.log(renderText(targetsTable(checks)));
  console.log(
    `\n${checks.filter((c) => c.met).length} of ${checks.length} targets met ${mark(checks.every((c) => c.met))} (a missed target never fails the run).`,
  );
}
console.log(`${results.durationS.toFixed(0)} s in all.`);

if (!quick && results.errors.length === 0 && only.size === SECTIONS.length) {
  const written = writeReport(results, tables, fileURLToPath(new URL('../../../docs', import.meta.url)));
  console.log(`wrote ${written[0]} and ${written.length - 1} charts`);
} else if (!quick) {
  console.log('docs/benchmarks.md left as it was (only a complete full run without errors writes it)');
}

if (results.errors.length > 0) {
  console.error(`\n${results.errors.length} error(s):`);
  for (const e of results.errors) console.error(`- ${e.split('\n')[0]}`);
  process.exitCode = 1;
}
