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
  /** With `{ replica: true }`: a replica of the master, which Sentinel promotes when the master dies. */
  readonly replica: RedisServer | undefined;
  /** The port of the master Sentinel names now (it changes on a failover). */
  masterPort(): number | undefined;
  /** Waits until Sentinel names the server on `port` as master (after a failover), at most `timeoutMs`. */
  waitForMaster(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a real redis-server and one Redis Sentinel (`redis-server --sentinel`)
 * watching it as `name`, both on 127.0.0.1 with OS-picked ports, and waits
 * until Sentinel reports the master's address. With `{ replica: true }` a
 * replica joins first, and Sentinel fails over to it half a second after the
 * master stops answering.
 */
export async function startRedisSentinel(
  name = 'tokenkit',
  { replica: withReplica = false }: { replica?: boolean } = {},
): Promise<RedisSentinel> {
  const master = await startRedis();
  const replica = withReplica ? await startRedis(['--replicaof', '127.0.0.1', String(master.port)]) : undefined;
  const servers = replica === undefined ? [master] : [master, replica];
  const stopServers = () => Promise.all(servers.map((server) => server.stop()));
  if (replica !== undefined) {
    // Sentinel learns of replicas from the master's INFO: the link must be up before it starts.
    if (!(await poll(() => replica.cli('info', 'replication').includes('master_link_status:up')))) {
      await stopServers();
      throw new Error(`redis replica on port ${replica.port} did not connect to its master`);
    }
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-sentinel-'));
  const config = join(dir, 'sentinel.conf');
  const failover =
    replica === undefined
      ? []
      : [`sentinel down-after-milliseconds ${name} 500`, `sentinel failover-timeout ${name} 5000`];
  // Sentinel rewrites its config file, so it gets a writable one of its own.
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      ...failover,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    await stopServers();
    rmSync(dir, { recursive: true, force: true });
  };
  const masterPort = (): number | undefined => {
    const answer =
      spawnSync('redis-cli', ['-p', String(port), 'sentinel', 'get-master-addr-by-name', name], { encoding: 'utf8' })
        .stdout ?? '';
    const found = /^(\d+)$/m.exec(answer.trim().split('\n').at(-1) ?? '');
    return found === null ? undefined : Number(found[1]);
  };
  // With a replica, Sentinel must also know it, or it has no one to promote.
  const ready = () =>
    masterPort() === master.port &&
    (replica === undefined || sentinelReplicas(port, name).includes(String(replica.port)));
  if (await poll(ready)) {
    const waitForMaster = async (expected: number, timeoutMs = 15_000) => {
      if (!(await poll(() => masterPort() === expected, timeoutMs)))
        throw new Error(`Sentinel did not name port ${expected} as master within ${timeoutMs} ms`);
    };
    return { master, name, port, replica, masterPort, waitForMaster, stop };
  }
  await stop();
  throw new Error(`redis sentinel did not start on port ${port}`);
}

/** What Sentinel says of the replicas of `name` (their ports among it). */
function sentinelReplicas(port: number, name: string): string {
  return spawnSync('redis-cli', ['-p', String(port), 'sentinel', 'replicas', name], { encoding: 'utf8' }).stdout ?? '';
}

/** Calls `check` every 50 ms until it is true (true) or `timeoutMs` has passed (false). */
async function poll(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}
