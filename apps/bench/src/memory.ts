// 6. Memory: heap after a million cached getToken() calls, and with many tenants'
// providers created, used and dropped (a leak would show as growth round after round).
import { startTokenServer } from '@tokenkit/test-utils';
import { runChild } from './child.ts';

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
    type ChildResult = Omit<MemoryResult, 'settings' | 'tokenRequests'>;
    const result = await runChild<ChildResult>('./memory-child.ts', { tokenUrl: tokenServer.url, ...settings }, [
      '--expose-gc',
    ]);
    return { settings, ...result, tokenRequests: tokenServer.count };
  } finally {
    await tokenServer.close();
  }
}
