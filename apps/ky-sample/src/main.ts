// A ky client of the payments API that gets its OAuth 2.0 access tokens
// from tokenkit (client_credentials, authenticated with private_key_jwt:
// a signed assertion instead of a shared secret). See README.md for the
// environment variables and how to run it. The demo's narration, counting
// and checks come from apps/demo-stack/src/sample-kit.ts.
import ky, { isHTTPError, isKyError } from 'ky';
import { createTokenProvider, isTokenKitError, withTokens, type PrivateKeyInput } from '@tokenkit/ky';
import { startSample, type Payment } from '@tokenkit-apps/demo-stack/sample-kit';

const demo = startSample({
  name: 'ky',
  isTokenKitError,
  describeError(error) {
    if (isHTTPError(error)) return `${error.response.status} ${error.message}`;
    if (isKyError(error)) return `${error.name} ${error.message}`;
    return undefined;
  },
});
const { env, need } = demo;

// One token provider per client identity, shared by everything in the process.
const tokens = createTokenProvider({
  issuer: env('TOKEN_ISSUER'), // the token endpoint is discovered from the issuer, or given:
  tokenEndpoint: env('TOKEN_ISSUER') ? undefined : need('TOKEN_URL'),
  clientId: need('CLIENT_ID'),
  clientAuthMethod: 'private_key_jwt', // RFC 7523: each token request carries a newly signed JWT
  privateKey: parsePrivateKey(need('PRIVATE_KEY')), // a private JWK (its kid and alg are used) or a PEM string
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  audience: env('AUDIENCE'),
  onEvent: demo.onTokenEvent,
});

// The ky instance: the token goes to requests for its baseUrl's origin, nowhere else. ky resolves
// 'payments' against baseUrl like a browser link: keep one trailing slash.
const payments = withTokens(ky.create({ baseUrl: need('API_URL').replace(/\/*$/, '/'), timeout: 5000 }), tokens);

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

/** The demo stack hands out a JWK as JSON; a PEM (PKCS#8) string, with `\n` escapes, works as well. */
function parsePrivateKey(value: string): PrivateKeyInput {
  return value.trimStart().startsWith('{') ? (JSON.parse(value) as object) : value.replaceAll('\\n', '\n');
}
