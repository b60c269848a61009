import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A free TCP port on 127.0.0.1, picked by the OS. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the server (it can be started again on the same port with `start()`). */
  stop(): Promise<void>;
  /** Starts it again after `stop()`. */
  start(): Promise<void>;
  /** Runs `redis-cli` against this server and returns its output. */
  cli(...args: string[]): string;
}

/** True when redis-server is installed. */
export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Starts a real redis-server on 127.0.0.1 with a random port and no
 * persistence. Extra arguments go to redis-server (e.g. `--cluster-enabled yes`).
 */
export async function startRedis(extraArgs: string[] = [], port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-redis-'));
  let child: ChildProcess | undefined;
  const cli = (...args: string[]) => {
    const result = spawnSync('redis-cli', ['-p', String(chosen), ...args], { encoding: 'utf8' });
    return (result.stdout ?? '') + (result.stderr ?? '');
  };
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      if (cli('ping').includes('PONG')) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not start on port ${chosen}`);
  };
  await start();
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    cli,
    start,
    async stop() {
      const running = child;
      if (running === undefined || running.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      cli('shutdown', 'nosave');
      running.kill('SIGTERM');
      await exited;
      child = undefined;
      if (!extraArgs.includes('--cluster-enabled')) return;
      rmSync(join(dir, 'nodes.conf'), { force: true });
    },
  };
}
