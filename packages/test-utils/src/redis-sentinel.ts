import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startRedis, type RedisServer } from './redis.ts';

export interface RedisSentinel {
  /** The master Sentinel watches, under the name `name`. */
  readonly master: RedisServer;
  /** The master's name in Sentinel, for ioredis's `name` option. */
  readonly name: string;
  /** Sentinel's own port, for ioredis's `sentinels` option. */
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts a real redis-server and one Redis Sentinel (`redis-server --sentinel`)
 * watching it as `name`, both on 127.0.0.1 with OS-picked ports, and waits
 * until Sentinel reports the master's address.
 */
export async function startRedisSentinel(name = 'tokenkit'): Promise<RedisSentinel> {
  const master = await startRedis();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it gets a writable one of its own.
  writeFileSync(config, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`, ''].join('\n'));
  const child: ChildProcess = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const answer = spawnSync('redis-cli', ['-p', String(port), 'sentinel', 'get-master-addr-by-name', name], { encoding: 'utf8' }).stdout ?? '';
    if (answer.includes(String(master.port))) return { master, name, port, stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`redis sentinel did not start on port ${port}`);
}
