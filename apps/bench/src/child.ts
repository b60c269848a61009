import { fork } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { findPackageJSON } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs `script` (next to this file) in a fresh Node process with `job` as JSON in argv[2]
 * and resolves with the first message it sends; rejects if it exits before sending one.
 */
export function runChild<T>(script: string, job: object, execArgv: string[] = []): Promise<T> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [JSON.stringify(job)], {
    execArgv: [...process.execArgv, ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before reporting`)));
  });
}

/**
 * The directory of a workspace package, found by the package's name the way Node resolves an import from
 * this app (node_modules/@tokenkit/<x> → packages/<x>): the app never spells a path into another package.
 */
export function packageDir(pkg: string): string {
  let manifest: string | undefined;
  try {
    manifest = findPackageJSON(pkg, import.meta.url);
  } catch (error) {
    throw new Error(`${pkg} is not a dependency of @tokenkit-apps/bench (add it to apps/bench/package.json)`, {
      cause: error,
    });
  }
  if (manifest === undefined) throw new Error(`${pkg}: no package.json found`);
  return realpathSync(dirname(manifest));
}

/** The path of a file in a workspace package (see packageDir); undefined when there is none (a bench not written yet). */
export function packageFile(pkg: string, file: string): string | undefined {
  const path = join(packageDir(pkg), file);
  return existsSync(path) ? path : undefined;
}

/** A function a package's bench module exports, to be run in a process of its own (bench-child.ts). */
export interface BenchCall {
  /** The package, by name: `@tokenkit/axios`. */
  package: string;
  /** The module in it: `bench/overhead.ts`. */
  script: string;
  /** The exported async function to call, with `options` as its one argument. */
  export: string;
  options?: Record<string, unknown>;
}

/**
 * Calls a package bench's exported function in a fresh process and resolves with what it returned: a
 * library measured after others in one process pays for their code (JIT, inline caches, heap).
 * `undefined` when the package has no such bench.
 */
export async function runBench<T>(call: BenchCall): Promise<T | undefined> {
  const file = packageFile(call.package, call.script);
  if (file === undefined) return undefined;
  return runChild<T>('./bench-child.ts', { file, export: call.export, options: call.options ?? {} });
}
