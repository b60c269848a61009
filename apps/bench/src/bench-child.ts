// Runs one exported function of a package's bench module (packages/<x>/bench/*.ts, found by package name in
// child.ts) in a process of its own and sends what it returned to the parent.
import { pathToFileURL } from 'node:url';

interface Job {
  file: string;
  export: string;
  options: Record<string, unknown>;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const bench = (await import(pathToFileURL(job.file).href)) as Record<string, unknown>;
const fn = bench[job.export];
if (typeof fn !== 'function') throw new Error(`${job.file} does not export ${job.export}()`);
const result: unknown = await (fn as (options: Record<string, unknown>) => Promise<unknown>)(job.options);
process.send!(result, () => process.disconnect());
