// Apollo Server 5 the way users run it: startStandaloneServer, a data source per request built in the
// context function, one token provider per tenant shared by every request.
import { ApolloServer, type ApolloServerOptions } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { startStandaloneServer } from '@apollo/server/standalone';
import { startApi, startTokenServer, type ApiServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createTokenProvider,
  findTokenKitError,
  OAuthRESTDataSource,
  UPSTREAM_AUTHENTICATION_FAILED,
  type TokenProvider,
} from './index.ts';
import { recordingCache } from './test-helpers.ts';

// Apollo Server and real servers: vitest's 5 s default is too short on a busy machine.
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

type GatewayOptions = Pick<ApolloServerOptions<Context>, 'includeStacktraceInErrorResponses' | 'formatError'>;

/** Starts Apollo Server 5 on a real port; `tenants` maps the `x-tenant` header to that tenant's provider. */
async function startGateway(tenants: Record<string, TokenProvider>, options: GatewayOptions = {}) {
  const server = new ApolloServer<Context>({ typeDefs, resolvers, ...options });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => {
      const tokens = tenants[String(req.headers['x-tenant'])];
      if (tokens === undefined) throw new Error('unknown tenant');
      return {
        dataSources: { payments: new PaymentsAPI({ tokens, cache: server.cache, origins: [plainApi.origin] }) },
      };
    },
  });
  /** The response as the browser gets it. */
  const raw = async (tenant: string, q: string) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': tenant },
      body: JSON.stringify({ query: q }),
    });
    return res.text();
  };
  const query = async (tenant: string, q: string) =>
    JSON.parse(await raw(tenant, q)) as {
      data?: Record<string, Payment | null>;
      errors?: { message: string; extensions?: Record<string, unknown> }[];
    };
  return { server, query, raw };
}

beforeAll(async () => {
  tokenServer = await startTokenServer({ clients: { 'tenant-a': 'secret-a', 'tenant-b': 'secret-b' } });
  cachingApi = await startApi({
    isValid: (t) => tokenServer.isValid(t),
    headers: { 'cache-control': 'public, max-age=60' },
  });
  plainApi = await startApi({ isValid: (t) => tokenServer.isValid(t) });
});
afterAll(() => Promise.all([tokenServer.close(), cachingApi.close(), plainApi.close()]));
beforeEach(() => {
  tokenServer.requests.length = 0;
  tokenServer.misbehave(undefined);
  cachingApi.requests.length = 0;
  plainApi.requests.length = 0;
});

const tenant = (id: string): TokenProvider =>
  createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: id, clientSecret: id.replace('tenant', 'secret') });

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
    const { entries, cache } = recordingCache();
    const a = tenant('tenant-a');
    const b = tenant('tenant-b');
    const ds = new PaymentsAPI({ tokens: a, cache });
    const result = await ds.raw('payments/1');
    await result.httpCache.cacheWritePromise;
    await new PaymentsAPI({ tokens: b, cache }).raw('payments/1').then((r) => r.httpCache.cacheWritePromise);
    const url = `${cachingApi.origin}/payments/1`;
    expect(result.requestDeduplication.policy).toEqual({
      policy: 'deduplicate-during-request-lifetime',
      deduplicationKey: `GET ${url} tokenkit:${a.key}`,
    });
    expect([...entries.keys()]).toEqual([
      `httpcache:GET ${url} tokenkit:${a.key}`,
      `httpcache:GET ${url} tokenkit:${b.key}`,
    ]);
    for (const token of tokenServer.issued) expect(JSON.stringify([...entries])).not.toContain(token);
  });
});

describe('a token endpoint failure', () => {
  it('reaches the GraphQL client as "upstream authentication failed" only: no secret, no credentials, no endpoint text', async () => {
    const said = 'this endpoint is not happy with';
    // A token endpoint that echoes what it was sent, as some do in their error text: secret and Basic credentials.
    tokenServer.misbehave((request) => ({
      status: 401,
      body: {
        error: 'invalid_client',
        error_description: `${said} ${request.headers.authorization} (${request.client?.secret})`,
      },
    }));
    const basic = Buffer.from('tenant-a:secret-a').toString('base64');
    for (const includeStacktraceInErrorResponses of [false, true]) {
      const seen: unknown[] = [];
      const { server, raw } = await startGateway(
        { a: tenant('tenant-a') },
        {
          includeStacktraceInErrorResponses,
          formatError: (formatted, error) => (seen.push(unwrapResolverError(error)), formatted),
        },
      );
      try {
        const body = await raw('a', '{ payment(id: "1") { path } }');
        const { errors } = JSON.parse(body) as { errors: { message: string; extensions: Record<string, unknown> }[] };
        expect(errors[0]).toMatchObject({
          message: 'upstream authentication failed',
          extensions: { code: UPSTREAM_AUTHENTICATION_FAILED },
        });
        for (const leak of ['secret-a', basic, said, 'invalid_client']) expect(body).not.toContain(leak);
        // The details stay on the server: core's typed error behind the one the client saw.
        expect(findTokenKitError(seen[0])).toMatchObject({ name: 'OAuthError', error: 'invalid_client', status: 401 });
        expect((seen[0] as { originalError?: unknown }).originalError).toBe(findTokenKitError(seen[0]));
      } finally {
        await server.stop();
      }
    }
    expect(cachingApi.requests).toHaveLength(0);
  });
});
