// An Apollo Server 5 GraphQL API whose resolvers read the payments REST API
// through an OAuthRESTDataSource: one data source per GraphQL request, one
// token provider (and so one cached token) for all of them. The sample starts
// the server, then acts as its client and runs GraphQL operations against it.
// See README.md for the environment variables and how to run it. The demo's
// narration, counting and checks come from apps/demo-stack/src/sample-kit.ts.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import type { DataSourceFetchResult, DataSourceRequest } from '@apollo/datasource-rest';
import { OAuthRESTDataSource, createTokenProvider } from '@tokenkit/apollo';
import { startSample, type Payment } from '@tokenkit-apps/demo-stack/sample-kit';

const demo = startSample({ name: 'apollo', apiCalls: 'REST calls' });
const { env, need } = demo;

// One token provider for the whole server: every request's data source shares its cached token.
const tokens = createTokenProvider({
  issuer: env('TOKEN_ISSUER'), // the token endpoint is discovered from the issuer, or given:
  tokenEndpoint: env('TOKEN_ISSUER') ? undefined : need('TOKEN_URL'),
  clientId: need('CLIENT_ID'),
  clientSecret: need('CLIENT_SECRET'),
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  audience: env('AUDIENCE'),
  onEvent: demo.onTokenEvent,
});

// RESTDataSource resolves 'payments' against baseURL like a browser link: keep one trailing slash.
const apiUrl = need('API_URL').replace(/\/*$/, '/');

/** The payments REST API. The token goes to baseURL's origin only. */
class PaymentsAPI extends OAuthRESTDataSource {
  override baseURL = apiUrl;

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
    demo.tally.apiCalls++;
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
demo.say(`GraphQL server at ${url}`);

try {
  await demo.coldCache('five concurrent GraphQL queries', () =>
    Promise.all(Array.from({ length: 5 }, () => graphql('{ payments { id } }'))),
  );

  await demo.untilTwoTokensExpired('create, read and refund payments through GraphQL', async (round) => {
    const created = await graphql<{ createPayment: Payment }>(
      'mutation($amount: Float!) { createPayment(amount: $amount) { id } }',
      {
        amount: round * 10,
      },
    );
    if (created === undefined) return;
    const id = created.createPayment.id;
    await Promise.all([
      graphql('query($id: ID!) { payment(id: $id) { status } payments { id } }', { id }), // two REST calls in parallel
      graphql('mutation($id: ID!) { refundPayment(id: $id) { status } }', { id }),
    ]);
  });

  // The data source drops the refused token, gets one new token for all three queries' REST calls
  // and retries each once; the GraphQL clients never see the 401.
  await demo.afterRevocation(tokens, () =>
    Promise.all(Array.from({ length: 3 }, () => graphql('{ payments { id } }'))),
  );
} finally {
  await server.stop();
}

demo.report();

/** Runs one GraphQL operation as a client would; errors are counted and printed, never thrown. */
async function graphql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    if (body.errors === undefined && body.data != null) return body.data;
    demo.fail(
      `GraphQL error: ${(body.errors ?? []).map((error) => `${error.extensions?.code ?? ''} ${error.message}`).join('; ')}`,
    );
  } catch (error) {
    demo.fail(`GraphQL request failed: ${String(error)}`);
  }
  return undefined;
}
