import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, type RedisServer } from './redis.ts';

export interface RedisCluster {
  /** The masters, in the order their ports were given to `redis-cli --cluster create`. */
  readonly nodes: readonly RedisServer[];
  readonly ports: readonly number[];
  /** Runs `redis-cli -c` (follows MOVED redirects) against the first node. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

/**
 * Starts a real Redis Cluster of `masters` nodes (no replicas) on 127.0.0.1,
 * each on an OS-picked port with no persistence, and waits until every node
 * reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000']));
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8' },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (let i = 0; ; i++) {
      if (nodes.every((node) => node.cli('cluster', 'info').includes('cluster_state:ok'))) break;
      if (i > 200) throw new Error('redis cluster did not reach cluster_state:ok');
      await sleep(50);
    }
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  const first = nodes[0]!;
  return {
    nodes,
    ports: nodes.map((node) => node.port),
    cli: (...args) =>
      spawnSync('redis-cli', ['-c', '-p', String(first.port), ...args], { encoding: 'utf8' }).stdout ?? '',
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}
