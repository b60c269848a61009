import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createTokenProvider,
  memoryStore,
  type StoredToken,
  type TokenProviderOptions,
  type TokenStore,
} from './index.ts';

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer({ expiresIn: 600 });
});
afterAll(() => server.close());
afterEach(() => {
  server.requests.length = 0;
  server.misbehave(undefined);
});

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const provider = (extra: Partial<TokenProviderOptions> = {}) =>
  createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 0,
    ...extra,
  });

const stored = (accessToken: string, now: number): StoredToken => ({
  accessToken,
  tokenType: 'Bearer',
  expiresAt: now + 600_000,
  receivedAt: now,
});

describe('invalidate() and the store', () => {
  it('invalidate(A) during a background refresh, while a peer holds the lock, never serves A again', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    const tokens = provider({ now: c.now, store, refreshAheadSeconds: 300 });
    const a = await tokens.getToken();
    c.advance(400_000); // in the refresh-ahead window
    const peer = await store.lock!(tokens.key, 60_000); // another process is fetching
    expect(peer).toBeDefined();
    await tokens.getToken(); // serves A, starts the background refresh (it finds the lock taken)
    await tokens.invalidate(a.accessToken); // the API said 401 to A meanwhile
    const next = tokens.getToken();
    // The peer's token lands in the store and the lock is released.
    await store.set(tokens.key, stored('at-from-peer', c.now()), 600_000);
    await peer!();
    expect((await next).accessToken).toBe('at-from-peer');
  });

  it("invalidate() removes the entry only if it still holds that token: a peer's successor stays", async () => {
    const c = clock();
    const inner = memoryStore({ now: c.now });
    // A peer writes its successor while invalidate() is at the store: right after a read (the race a
    // read-compare-delete loses), or just before an atomic compare-and-delete (which then leaves it alone).
    let racing = false;
    const peerWrites = (key: string) => inner.set(key, stored('at-successor', c.now()), 600_000);
    const store: TokenStore = {
      ...inner,
      get: async (key) => {
        const value = await inner.get(key);
        if (racing) await peerWrites(key);
        return value;
      },
      deleteIf: async (key, accessToken) => {
        if (racing) await peerWrites(key);
        return inner.deleteIf!(key, accessToken);
      },
    };
    const tokens = provider({ now: c.now, store });
    const a = await tokens.getToken();
    racing = true;
    await tokens.invalidate(a.accessToken);
    racing = false;
    expect((await inner.get(tokens.key))?.accessToken).toBe('at-successor');
  });

  it('an older value written back into the store is not adopted, not even right after invalidate()', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    const tokens = provider({ now: c.now, store });
    const old = { ...stored('at-old-replayed', c.now()), expiresAt: c.now() + 300_000 }; // still valid, but older
    const current = await tokens.getToken(); // expires in 600 s
    await store.set(tokens.key, old, 300_000); // whoever can write to the store replays it
    await tokens.invalidate(current.accessToken); // the API said 401
    const next = await tokens.getToken();
    expect(next.accessToken).not.toBe('at-old-replayed');
    expect(next.accessToken).not.toBe(current.accessToken);
  });

  it('memoryStore.deleteIf is a compare-and-delete', async () => {
    const store = memoryStore();
    await store.set('k', stored('at-1', Date.now()), 60_000);
    await store.deleteIf!('k', 'at-other');
    expect((await store.get('k'))?.accessToken).toBe('at-1');
    await store.deleteIf!('k', 'at-1');
    expect(await store.get('k')).toBeUndefined();
  });
});

describe('memoryStore keeps memory proportional to live entries', () => {
  it('expired entries whose keys are never read again are swept as new ones arrive', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    for (let wave = 0; wave < 3; wave++) {
      for (let tenant = 0; tenant < 20_000; tenant++)
        await store.set(`wave${wave}-tenant${tenant}`, stored('at', c.now()), 60_000);
      c.advance(61_000); // this wave's tenants are gone and never come back
    }
    expect(store.size).toBeLessThanOrEqual(2 * 20_000);
  });
});

describe('a failing token endpoint is not hammered', () => {
  it('after consecutive failures callers get the last error at once, for a window that grows and resets on success', async () => {
    const c = clock();
    server.misbehave(() => ({ status: 503, body: 'down' }));
    const tokens = provider({ now: c.now });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'http_status' }); // 1st failure: no pause
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'http_status' }); // 2nd: a 1 s window opens
    expect(server.count).toBe(2);
    for (let i = 0; i < 100; i++) await expect(tokens.getToken()).rejects.toMatchObject({ status: 503 });
    expect(server.count).toBe(2); // 100 callers in the window: no request

    c.advance(1_000);
    await expect(tokens.getToken()).rejects.toThrow(); // 3rd failure: the window doubles to 2 s
    c.advance(1_500);
    await expect(tokens.getToken()).rejects.toThrow();
    expect(server.count).toBe(3);

    server.misbehave(undefined);
    c.advance(500);
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' }); // success resets the window
    expect(server.count).toBe(4);
  });
});
