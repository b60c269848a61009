// An axios client of the payments API that gets its OAuth 2.0 access tokens
// from tokenkit (client_credentials, client_secret_basic). See README.md for
// the environment variables and how to run it. The demo's narration, counting
// and checks come from apps/demo-stack/src/sample-kit.ts.
import axios from 'axios';
import { createTokenProvider, installTokenInterceptor, isTokenKitError, type ClientAuthMethod } from '@tokenkit/axios';
import { startSample, type Payment } from '@tokenkit-apps/demo-stack/sample-kit';

const demo = startSample({
  name: 'axios',
  isTokenKitError,
  describeError: (error) =>
    axios.isAxiosError(error) ? `${error.response?.status ?? error.code} ${error.message}` : undefined,
});
const { env, need } = demo;

// One token provider per client identity, shared by everything in the process.
const tokens = createTokenProvider({
  issuer: env('TOKEN_ISSUER'), // the token endpoint is discovered from the issuer, or given:
  tokenEndpoint: env('TOKEN_ISSUER') ? undefined : need('TOKEN_URL'),
  clientId: need('CLIENT_ID'),
  clientSecret: need('CLIENT_SECRET'),
  clientAuthMethod: env('CLIENT_AUTH_METHOD') as ClientAuthMethod | undefined, // default client_secret_basic
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  audience: env('AUDIENCE'),
  onEvent: demo.onTokenEvent,
});

// The axios instance: the token goes to requests for baseURL's origin, nowhere else.
const payments = axios.create({ baseURL: need('API_URL'), timeout: 5000 });
installTokenInterceptor(payments, tokens);

// The interceptor drops a token the API refuses (401), gets one new token for all calls and re-sends each once.
await demo.paymentSteps(
  {
    list: () => payments.get<{ payments: Payment[] }>('/payments'),
    create: (amount) => payments.post<Payment>('/payments', { amount, currency: 'EUR' }).then((res) => res.data),
    read: (id) => payments.get<Payment>(`/payments/${id}`),
    refund: (id) => payments.post<Payment>(`/payments/${id}/refund`),
  },
  tokens,
);

demo.report();
