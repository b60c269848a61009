import { fork } from 'node:child_process';
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
