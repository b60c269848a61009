// Runs under `node --expose-gc`: heap after many cached getToken() calls, and after
// many providers (tenants) are created, used and dropped. The token server lives in
// the parent so its records do not count here.
import { createTokenProvider } from '@tokenkit/core';

interface Job {
  tokenUrl: string;
  calls: number;
  tenants: number;
  tenantRounds: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('memory-child.ts must run with --expose-gc');

const heap = async () => {
  // Let pending I/O callbacks and finalizers run, then collect fully.
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return process.memoryUsage().heapUsed;
};

let kept = 0;
const keepAlive = (value: object) => void (kept += Object.keys(value).length);

const make = (scope: string) =>
  createTokenProvider({ tokenEndpoint: job.tokenUrl, clientId: 'client-id', clientSecret: 'client-secret', scope });

/** Heap with one provider and its token, before and after many cached calls. */
async function manyCalls(): Promise<{ beforeCalls: number; afterCalls: number }> {
  const tokens = make('bench');
  await tokens.getToken();
  const beforeCalls = await heap();
  for (let i = 0; i < job.calls; i++) await tokens.getToken();
  const afterCalls = await heap();
  keepAlive(tokens); // V8 may collect a local it sees no later use of
  return { beforeCalls, afterCalls };
}

/** Heap while `job.tenants` providers, each with its token, are alive. */
async function tenantRound(round: number): Promise<number> {
  const providers = Array.from({ length: job.tenants }, (_, i) => make(`tenant-${round}-${i}`));
  for (let i = 0; i < providers.length; i += 100) {
    await Promise.all(providers.slice(i, i + 100).map((p) => p.getToken()));
  }
  const alive = await heap();
  keepAlive(providers);
  return alive;
}

const start = await heap();
const { beforeCalls, afterCalls } = await manyCalls();
const tenantsStart = await heap();
const rounds: { alive: number; dropped: number }[] = [];
for (let round = 0; round < job.tenantRounds; round++) {
  const alive = await tenantRound(round);
  rounds.push({ alive, dropped: await heap() }); // the providers went out of scope with tenantRound()
}
const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
process.send!({ start, beforeCalls, afterCalls, tenantsStart, rounds, timers }, () => process.disconnect());
