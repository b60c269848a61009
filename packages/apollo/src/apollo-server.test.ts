// Apollo Server 5 the way users run it: startStandaloneServer, a data source per request built in the
// context function, one token provider per tenant shared by every request.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { startApi, startTokenServer, type ApiServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, OAuthRESTDataSource, type TokenProvider } from './index.ts';

// Apollo Server, real servers and 100 concurrent operations: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

interface Payment {
  path: string;
  n: number;
}

let tokenServer: TokenServer;
let cachingApi: ApiServer; // answers `cache-control: public, max-age=60`
let plainApi: ApiServer; // answers `cache-control: no-store`

class PaymentsAPI extends OAuthRESTDataSource {
  override baseURL = cachingApi.origin + '/';
  payment(id: string): Promise<Payment> {
    return this.get(`payments/${encodeURIComponent(id)}`);
  }
  /** Cached by `cacheOptions.ttl` although the API says no-store. */
  ledger(id: string): Promise<Payment> {
    return this.get(`${plainApi.origin}/ledger/${encodeURIComponent(id)}`, { cacheOptions: { ttl: 60 } });
  }
  raw(path: string) {
    return this.fetch<Payment>(path);
  }
}

interface Context {
  dataSources: { payments: PaymentsAPI };
}

const typeDefs = `
  type Payment { path: String!, n: Int! }
  type Query { payment(id: ID!): Payment, ledger(id: ID!): Payment }
`;
const resolvers = {
  Query: {
    payment: (_: unknown, { id }: { id: string }, { dataSources }: Context) => dataSources.payments.payment(id),
    ledger: (_: unknown, { id }: { id: string }, { dataSources }: Context) => dataSources.payments.ledger(id),
  },
};

/** Starts Apollo Server 5 on a real port; `tenants` maps the `x-tenant` header to that tenant's provider. */
async function startGateway(tenants: Record<string, TokenProvider>, cache?: ApolloServer['cache']) {
  const server = new ApolloServer<Context>({ typeDefs, resolvers, ...(cache && { cache }) });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => {
      const tokens = tenants[String(req.headers['x-tenant'])];
      if (tokens === undefined) throw new Error('unknown tenant');
      return { dataSources: { payments: new PaymentsAPI({ tokens, cache: server.cache, origins: [plainApi.origin] }) } };
    },
  });
  const query = async (tenant: string, q: string) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': tenant }, body: JSON.stringify({ query: q }) });
    return (await res.json()) as { data?: Record<string, Payment | null>; errors?: { message: string }[] };
  };
  return { server, query };
}

beforeAll(async () => {
  tokenServer = await startTokenServer({ clients: { 'tenant-a': 'secret-a', 'tenant-b': 'secret-b' } });
  cachingApi = await startApi({ isValid: (t) => tokenServer.isValid(t), headers: { 'cache-control': 'public, max-age=60' } });
  plainApi = await startApi({ isValid: (t) => tokenServer.isValid(t) });
});
afterAll(() => Promise.all([tokenServer.close(), cachingApi.close(), plainApi.close()]));
beforeEach(() => {
  tokenServer.requests.length = 0;
  tokenServer.configure({ latencyMs: 0 });
  cachingApi.requests.length = 0;
  plainApi.requests.length = 0;
});

const tenant = (id: string): TokenProvider => createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: id, clientSecret: id.replace('tenant', 'secret') });

describe('multi-tenant safety', () => {
  it('two tenants on the same URL each send their own token and get their own cached response (public, max-age=60)', async () => {
    const a = tenant('tenant-a');
    const b = tenant('tenant-b');
    const { server, query } = await startGateway({ a, b });
    try {
      const q = '{ payment(id: "42") { path n } }';
      const a1 = await query('a', q);
      const b1 = await query('b', q);
      const a2 = await query('a', q);
      const b2 = await query('b', q);
      expect(a1.data?.['payment']).toEqual({ path: '/payments/42', n: 1 });
      expect(b1.data?.['payment']).toEqual({ path: '/payments/42', n: 2 }); // not A's cached answer
      expect(a2.data?.['payment']).toEqual(a1.data?.['payment']); // from the shared cache
      expect(b2.data?.['payment']).toEqual(b1.data?.['payment']);
      const [tokenA, tokenB] = tokenServer.issued.slice(-2);
      expect(tokenServer.requests.map((r) => r.client?.id)).toEqual(['tenant-a', 'tenant-b']);
      expect(cachingApi.requests.map((r) => r.authorization)).toEqual([`Bearer ${tokenA}`, `Bearer ${tokenB}`]);
    } finally {
      await server.stop();
    }
  });

  it('the same holds with cacheOptions: { ttl } on a no-store API', async () => {
    const { server, query } = await startGateway({ a: tenant('tenant-a'), b: tenant('tenant-b') });
    try {
      const q = '{ ledger(id: "7") { path n } }';
      const answers = [];
      for (const t of ['a', 'b', 'a', 'b', 'b']) answers.push((await query(t, q)).data?.['ledger']?.n);
      expect(answers).toEqual([1, 2, 1, 2, 2]);
      expect(plainApi.requests).toHaveLength(2);
      expect(new Set(plainApi.requests.map((r) => r.authorization)).size).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it("cache and de-duplication keys carry the provider's key, never its token", async () => {
    const entries = new Map<string, string>();
    const cache = {
      get: async (key: string) => entries.get(key),
      set: async (key: string, value: string) => void entries.set(key, value),
      delete: async (key: string) => void entries.delete(key),
    };
    const a = tenant('tenant-a');
    const b = tenant('tenant-b');
    const ds = new PaymentsAPI({ tokens: a, cache });
    const result = await ds.raw('payments/1');
    await result.httpCache.cacheWritePromise;
    await new PaymentsAPI({ tokens: b, cache }).raw('payments/1').then((r) => r.httpCache.cacheWritePromise);
    const url = `${cachingApi.origin}/payments/1`;
    expect(result.requestDeduplication.policy).toEqual({ policy: 'deduplicate-during-request-lifetime', deduplicationKey: `GET ${url} tokenkit:${a.key}` });
    expect([...entries.keys()]).toEqual([`httpcache:GET ${url} tokenkit:${a.key}`, `httpcache:GET ${url} tokenkit:${b.key}`]);
    for (const token of tokenServer.issued) expect(JSON.stringify([...entries])).not.toContain(token);
  });
});

describe('concurrency', () => {
  it('100 concurrent operations on a cold cache make exactly one token request', async () => {
    tokenServer.configure({ latencyMs: 50 });
    const { server, query } = await startGateway({ a: tenant('tenant-a') });
    try {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => query('a', `{ ledger(id: "c${i}") { path } }`)));
      expect(results.every((r) => r.errors === undefined)).toBe(true);
      expect(tokenServer.count).toBe(1);
      expect(plainApi.requests).toHaveLength(100);
      expect(new Set(plainApi.requests.map((r) => r.authorization))).toEqual(new Set([`Bearer ${tokenServer.issued.at(-1)}`]));
    } finally {
      await server.stop();
    }
  });
});
