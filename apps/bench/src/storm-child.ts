// One cold-start storm in a fresh process (storm.ts): sets up one library against the parent's servers, fires
// `concurrency` requests at once on its cold cache and reports how long until all were answered.
import { peerLibraries, staticLibraries, tokenkitLibraries, type Endpoints } from './libraries.ts';
import type { StormChildResult } from './storm.ts';

interface Job {
  id: string;
  endpoints: Endpoints;
  concurrency: number;
  staticHeader?: string;
}

const cpuMs = (used: NodeJS.CpuUsage) => (used.user + used.system) / 1000;

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const library = [...tokenkitLibraries, ...staticLibraries, ...peerLibraries].find((l) => l.id === job.id);
if (library === undefined) throw new Error(`storm-child: no library ${job.id}`);
const contender = await library.setup(
  job.endpoints,
  job.staticHeader === undefined ? undefined : { staticHeader: job.staticHeader },
);
const cpu = process.cpuUsage();
const started = performance.now();
// Distinct paths: Apollo would otherwise de-duplicate concurrent identical GETs into one.
const statuses = await Promise.all(Array.from({ length: job.concurrency }, (_, i) => contender.get(`payments/${i}`)));
const result: StormChildResult = {
  durationMs: performance.now() - started,
  cpuMs: cpuMs(process.cpuUsage(cpu)),
  failed: statuses.filter((s) => s !== 200).length,
};
contender.close?.();
// Exit at once: pooled keep-alive sockets would keep this process alive until the parent closes the servers.
process.send!(result, () => process.exit(0));
