// An Apollo Server 5 GraphQL API whose resolvers read the payments REST API
// through an OAuthRESTDataSource: one data source per GraphQL request, one
// token provider (and so one cached token) for all of them. The sample starts
// the server, then acts as its client and runs GraphQL operations against it.
// See README.md for the environment variables and how to run it.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { DataSourceFetchResult, DataSourceRequest } from '@apollo/datasource-rest';
import { OAuthRESTDataSource, createTokenProvider } from '@tokenkit/apollo';

interface Payment {
  id: string;
  amount: number;
  currency: string;
  status: string;
}

const config = readConfig();
const tally = { apiCalls: 0, tokensFetched: 0, retries: 0, failures: 0 };
const expiries: number[] = []; // when each token fetched so far expires
let backgroundFetches = 0; // tokens renewed ahead of time, while the previous one still served
let refreshing = 0; // such renewals under way
const started = Date.now();

// One token provider for the whole server: every request's data source shares its cached token.
const tokens = createTokenProvider({
  ...config.endpoint, // { issuer } (discovery) or { tokenEndpoint }
  clientId: config.clientId,
  clientSecret: config.clientSecret,
  ...config.tokenRequest, // scope, resource, audience
  onEvent(event) {
    if (event.type === 'fetch') {
      tally.tokensFetched++;
      expiries.push(event.expiresAt);
      if (event.background) {
        backgroundFetches++;
        refreshing--;
      }
      const life = ((event.expiresAt - Date.now()) / 1000).toFixed(1);
      say(`token #${tally.tokensFetched} fetched ${event.background ? 'in the background' : 'on demand'}, expires in ${life} s`);
    } else if (event.type === 'invalidate') {
      tally.retries++; // the data source dropped a token the API refused and retries the call once
    } else if (event.type === 'refresh') {
      refreshing++;
    } else if (event.type === 'error') {
      if (event.background) refreshing--;
      say(`token request failed: ${event.error.message}`);
    }
  },
});

/** The payments REST API. The token goes to baseURL's origin only. */
class PaymentsAPI extends OAuthRESTDataSource {
  override baseURL = config.apiUrl;

  listPayments(): Promise<Payment[]> {
    return this.get<{ payments: Payment[] }>('payments').then((body) => body.payments);
  }
  getPayment(id: string): Promise<Payment> {
    return this.get<Payment>(`payments/${encodeURIComponent(id)}`);
  }
  createPayment(amount: number, currency: string): Promise<Payment> {
    return this.post<Payment>('payments', { body: { amount, currency } });
  }
  refundPayment(id: string): Promise<Payment> {
    return this.post<Payment>(`payments/${encodeURIComponent(id)}/refund`);
  }

  // Counts the REST calls for the sample's report; an override of fetch must call super.
  override fetch<T>(path: string, request?: DataSourceRequest): Promise<DataSourceFetchResult<T>> {
    tally.apiCalls++;
    return super.fetch<T>(path, request);
  }
}

interface Context {
  payments: PaymentsAPI;
}

const typeDefs = `#graphql
  type Payment { id: ID!, amount: Float!, currency: String!, status: String! }
  type Query { payments: [Payment!]!, payment(id: ID!): Payment! }
  type Mutation {
    createPayment(amount: Float!, currency: String! = "EUR"): Payment!
    refundPayment(id: ID!): Payment!
  }
`;

const resolvers = {
  Query: {
    payments: (_: unknown, _args: unknown, { payments }: Context) => payments.listPayments(),
    payment: (_: unknown, { id }: { id: string }, { payments }: Context) => payments.getPayment(id),
  },
  Mutation: {
    createPayment: (_: unknown, { amount, currency }: { amount: number; currency: string }, { payments }: Context) =>
      payments.createPayment(amount, currency),
    refundPayment: (_: unknown, { id }: { id: string }, { payments }: Context) => payments.refundPayment(id),
  },
};

const server = new ApolloServer<Context>({ typeDefs, resolvers });
const { url } = await startStandaloneServer(server, {
  listen: { port: 0, host: '127.0.0.1' },
  // A new data source per GraphQL request (it de-duplicates within the request); the provider is shared.
  context: async () => ({ payments: new PaymentsAPI({ tokens, cache: server.cache }) }),
});
say(`GraphQL server at ${url}`);

try {
  say('1. five concurrent GraphQL queries on a cold cache');
  await Promise.all(Array.from({ length: 5 }, () => graphql('{ payments { id } }')));
  check(tally.tokensFetched === 1, `5 concurrent queries (${tally.apiCalls} REST calls) shared ${tally.tokensFetched} token request(s)`);

  say('2. create, read and refund payments through GraphQL until two tokens have expired');
  const firstToken = tally.tokensFetched;
  const expired = () => expiries.filter((expiresAt) => expiresAt <= Date.now()).length;
  for (let round = 1; expired() < 2 && Date.now() - started < 30_000; round++) {
    const created = await graphql<{ createPayment: Payment }>('mutation($amount: Float!) { createPayment(amount: $amount) { id } }', {
      amount: round * 10,
    });
    if (created === undefined) {
      await sleep(200);
      continue;
    }
    const id = created.createPayment.id;
    await Promise.all([
      graphql('query($id: ID!) { payment(id: $id) { status } payments { id } }', { id }), // two REST calls in parallel
      graphql('mutation($id: ID!) { refundPayment(id: $id) { status } }', { id }),
    ]);
    await sleep(200);
  }
  check(
    expired() >= 2,
    `${expired()} tokens expired while queries went on; ${backgroundFetches} of the ${tally.tokensFetched - firstToken} newer ones were fetched in the background`,
  );

  say('3. the API revokes the token in use; the next REST calls get 401');
  const before = { ...tally };
  await revokeCurrentToken();
  const results = await Promise.all(Array.from({ length: 3 }, () => graphql<{ payments: Payment[] }>('{ payments { id } }')));
  check(
    results.every((r) => r !== undefined) && tally.retries > before.retries && tally.tokensFetched > before.tokensFetched,
    `${tally.retries - before.retries} REST call(s) got 401 and were retried once with ${tally.tokensFetched - before.tokensFetched} new token`,
  );
} finally {
  await server.stop();
}

say(`done: ${tally.apiCalls} REST calls, ${tally.tokensFetched} tokens fetched, ${tally.retries} retried after 401, ${tally.failures} failures`);
console.log(JSON.stringify({ report: 'tokenkit-sample', sample: 'apollo', ...tally }));
process.exitCode = tally.failures === 0 ? 0 : 1;

// ---- helpers ---------------------------------------------------------------

/** Runs one GraphQL operation as a client would; errors are counted and printed, never thrown. */
async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T | undefined> {
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    if (body.errors === undefined && body.data != null) return body.data;
    tally.failures++;
    for (const error of body.errors ?? []) say(`GraphQL error: ${error.extensions?.code ?? ''} ${error.message}`);
  } catch (error) {
    tally.failures++;
    say(`GraphQL request failed: ${String(error)}`);
  }
  return undefined;
}

function check(ok: boolean, what: string): void {
  if (!ok) tally.failures++;
  say(`${ok ? '✓' : '✗'} ${what}`);
}

function say(line: string): void {
  console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
}

/**
 * Demo stack only: asks the payments API to refuse the token the provider
 * currently serves (by its `jti`), as a real API would after revocation. A
 * renewal under way would replace that token before the next calls: then wait
 * for it and revoke the new token.
 */
async function revokeCurrentToken(): Promise<void> {
  let { accessToken } = await tokens.getToken();
  while (refreshing > 0) {
    await sleep(10);
    ({ accessToken } = await tokens.getToken());
  }
  const { jti } = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: string };
  const res = await fetch(new URL('/admin/revoke', config.apiUrl), { method: 'POST', body: JSON.stringify({ jti }) });
  if (res.status !== 204) throw new Error(`the demo API did not revoke the token: ${res.status}`);
}

/** Configuration from the environment; see README.md. */
function readConfig() {
  const env = (name: string) => process.env[name] || undefined;
  const need = (name: string): string => {
    const value = env(name);
    if (value === undefined) {
      console.error(`${name} is not set. See apps/apollo-sample/README.md.`);
      process.exit(2);
    }
    return value;
  };
  const issuer = env('TOKEN_ISSUER');
  const scope = env('SCOPE');
  const resource = env('RESOURCE');
  const audience = env('AUDIENCE');
  return {
    endpoint: issuer ? { issuer } : { tokenEndpoint: need('TOKEN_URL') },
    clientId: need('CLIENT_ID'),
    clientSecret: need('CLIENT_SECRET'),
    tokenRequest: { ...(scope ? { scope } : {}), ...(resource ? { resource } : {}), ...(audience ? { audience } : {}) },
    // RESTDataSource resolves 'payments' against baseURL like a browser link: keep one trailing slash.
    apiUrl: need('API_URL').replace(/\/*$/, '/'),
  };
}
