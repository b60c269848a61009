// Runs one adapter's packages/<x>/bench/overhead.ts in a process of its own and sends
// the result to the parent: a library measured after others in one process pays for
// their code (JIT, inline caches, heap) and would not show its own overhead.
import { pathToFileURL } from 'node:url';

interface Job {
  file: string;
  requests: number;
  rounds: number;
  /** The bench's own options (which adapter of a package with two). */
  options?: Record<string, unknown>;
}

/** What every adapter's bench/overhead.ts exports. */
interface AdapterBench {
  measureOverhead(options: { requests: number; rounds: number } & Record<string, unknown>): Promise<unknown>;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const bench = (await import(pathToFileURL(job.file).href)) as Partial<AdapterBench>;
if (typeof bench.measureOverhead !== 'function') throw new Error(`${job.file} does not export measureOverhead()`);
const result = await bench.measureOverhead({ ...job.options, requests: job.requests, rounds: job.rounds });
process.send!(result, () => process.disconnect());
