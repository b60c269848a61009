// 6. Memory: heap after a million cached getToken() calls, and with many tenants'
// providers created, used and dropped (a leak would show as growth round after round).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTokenServer } from '@tokenkit/test-utils';

export interface MemorySettings {
  calls: number;
  tenants: number;
  tenantRounds: number;
}

export interface MemoryResult {
  settings: MemorySettings;
  /** heapUsed after gc, bytes. */
  start: number;
  beforeCalls: number;
  afterCalls: number;
  tenantsStart: number;
  rounds: { alive: number; dropped: number }[];
  /** Timers still scheduled after every provider was dropped (tokenkit keeps none). */
  timers: number;
  tokenRequests: number;
}

export async function measureMemory(settings: MemorySettings): Promise<MemoryResult> {
  const tokenServer = await startTokenServer();
  try {
    const child = fork(fileURLToPath(new URL('./memory-child.ts', import.meta.url)), [JSON.stringify({ tokenUrl: tokenServer.url, ...settings })], {
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const result = await new Promise<Omit<MemoryResult, 'settings' | 'tokenRequests'>>((resolve, reject) => {
      child.once('message', (m) => resolve(m as Omit<MemoryResult, 'settings' | 'tokenRequests'>));
      child.once('exit', (code) => reject(new Error(`memory child exited with ${code} before reporting`)));
    });
    return { settings, ...result, tokenRequests: tokenServer.count };
  } finally {
    await tokenServer.close();
  }
}
