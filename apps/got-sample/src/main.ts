// A got client of the payments API that gets its OAuth 2.0 access tokens
// from tokenkit (client_credentials; client_secret_post in the demo). See
// README.md for the environment variables and how to run it. The demo's
// narration, counting and checks come from apps/demo-stack/src/sample-kit.ts.
import got, { RequestError } from 'got';
import { createTokenProvider, isTokenKitError, tokenHooks, type ClientAuthMethod } from '@tokenkit/got';
import { startSample, type Payment } from '@tokenkit-apps/demo-stack/sample-kit';

const demo = startSample({
  name: 'got',
  isTokenKitError,
  describeError: (error) =>
    error instanceof RequestError ? `${error.response?.statusCode ?? error.code} ${error.message}` : undefined,
});
const { env, need } = demo;

// One token provider per client identity, shared by everything in the process.
const tokens = createTokenProvider({
  issuer: env('TOKEN_ISSUER'), // the token endpoint is discovered from the issuer, or given:
  tokenEndpoint: env('TOKEN_ISSUER') ? undefined : need('TOKEN_URL'),
  clientId: need('CLIENT_ID'),
  clientSecret: need('CLIENT_SECRET'),
  // client_secret_post: id and secret in the form body
  clientAuthMethod: (env('CLIENT_AUTH_METHOD') ?? 'client_secret_post') as ClientAuthMethod,
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  audience: env('AUDIENCE'),
  onEvent: demo.onTokenEvent,
});

// The got instance: the token goes to requests under prefixUrl's origin, checked again on every redirect hop.
const payments = got.extend({ prefixUrl: need('API_URL'), hooks: tokenHooks(tokens), timeout: { request: 5000 } });

// The hooks drop a token the API refuses (401), get one new token for all calls and retry each once.
await demo.paymentSteps(
  {
    list: () => payments.get('payments').json<{ payments: Payment[] }>(),
    create: (amount) => payments.post('payments', { json: { amount, currency: 'EUR' } }).json<Payment>(),
    read: (id) => payments.get(`payments/${id}`).json<Payment>(),
    refund: (id) => payments.post(`payments/${id}/refund`).json<Payment>(),
  },
  tokens,
);

demo.report();
