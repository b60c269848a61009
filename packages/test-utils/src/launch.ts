import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';

/** A server process started by {@link launch}. */
export interface Launched {
  readonly child: ChildProcess;
  /** The last 64 KiB it wrote to stderr (and stdout, unless `stdout` was asked for separately). */
  output(): string;
  /** The last 4 KiB of its stdout, when launched with `separateStdout`. */
  stdout(): string;
  /**
   * Throws, naming `name` and quoting its output, when the process could not be started, has exited, or `deadline`
   * (a `Date.now()` value) has passed: for loops that wait for it to answer.
   */
  check(deadline: number, timeoutMs: number): void;
  /** Stops it (SIGTERM, then SIGKILL if a busy machine leaves it hanging) and removes `workDir`. */
  stop(): Promise<void>;
}

/**
 * Starts `command` for a test: output collected for error messages, a start failure or an early exit turned into an
 * error that names `name`, and a stop that always ends the process and removes its working directory.
 */
export function launch(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { workDir: string; separateStdout?: boolean },
): Launched {
  const { workDir, separateStdout = false, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let output = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-65_536);
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    if (separateStdout) stdout = (stdout + chunk.toString('utf8')).slice(-4096);
    else output = (output + chunk.toString('utf8')).slice(-65_536);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => output,
    stdout: () => stdout,
    check(deadline, timeoutMs) {
      if (spawnError !== undefined) throw new Error(`${name} could not be started (${spawnError.message})`);
      if (!running())
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it answered:\n${output}`);
      if (Date.now() > deadline) throw new Error(`${name} did not answer within ${timeoutMs} ms:\n${output}`);
    },
    async stop() {
      if (running() && spawnError === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}
