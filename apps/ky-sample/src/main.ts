// A ky client of the payments API that gets its OAuth 2.0 access tokens
// from tokenkit (client_credentials, authenticated with private_key_jwt:
// a signed assertion instead of a shared secret). See README.md for the
// environment variables and how to run it.
import { setTimeout as sleep } from 'node:timers/promises';
import ky, { isHTTPError, isKyError } from 'ky';
import { createTokenProvider, isTokenKitError, tokenHooks, type TokenProviderOptions } from '@tokenkit/ky';

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

// One token provider per client identity, shared by everything in the process.
const tokens = createTokenProvider({
  ...config.endpoint, // { tokenEndpoint } or { issuer } (discovery)
  clientId: config.clientId,
  clientAuthMethod: 'private_key_jwt', // RFC 7523: each token request carries a newly signed JWT
  privateKey: config.privateKey, // a private JWK (its kid and alg are used) or a PEM string
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
      tally.retries++; // the hooks dropped a token the API refused and retry the call once
    } else if (event.type === 'refresh') {
      refreshing++;
    } else if (event.type === 'error') {
      if (event.background) refreshing--;
      say(`token request failed: ${event.error.message}`);
    }
  },
});

// The ky instance: the token goes to requests for baseUrl's origin, nowhere else.
const payments = ky.create({ baseUrl: config.apiUrl, hooks: tokenHooks(tokens), timeout: 5000 });

say('1. ten concurrent calls on a cold cache');
await Promise.all(Array.from({ length: 10 }, () => call(() => payments.get('payments').json<{ payments: Payment[] }>())));
check(tally.tokensFetched === 1, `10 concurrent calls shared ${tally.tokensFetched} token request(s)`);

say('2. create, read and refund payments, 3 calls at a time, until two tokens have expired');
const firstToken = tally.tokensFetched;
const expired = () => expiries.filter((expiresAt) => expiresAt <= Date.now()).length;
for (let round = 1; expired() < 2 && Date.now() - started < 30_000; round++) {
  const created = await call(() => payments.post('payments', { json: { amount: round * 10, currency: 'EUR' } }).json<Payment>());
  if (created === undefined) {
    await sleep(200);
    continue;
  }
  await Promise.all([
    call(() => payments.get(`payments/${created.id}`).json<Payment>()),
    call(() => payments.post(`payments/${created.id}/refund`).json<Payment>()),
    call(() => payments.get('payments').json<{ payments: Payment[] }>()),
  ]);
  await sleep(200);
}
check(
  expired() >= 2,
  `${expired()} tokens expired while calls went on; ${backgroundFetches} of the ${tally.tokensFetched - firstToken} newer ones were fetched in the background`,
);

say('3. the API revokes the token in use; the next calls get 401');
const before = { ...tally };
await revokeCurrentToken();
const results = await Promise.all(Array.from({ length: 3 }, () => call(() => payments.get('payments').json<{ payments: Payment[] }>())));
check(
  results.every((r) => r !== undefined) && tally.retries > before.retries && tally.tokensFetched > before.tokensFetched,
  `${tally.retries - before.retries} call(s) got 401 and were retried once with ${tally.tokensFetched - before.tokensFetched} new token`,
);

say(`done: ${tally.apiCalls} API calls, ${tally.tokensFetched} tokens fetched, ${tally.retries} retried after 401, ${tally.failures} failures`);
console.log(JSON.stringify({ report: 'tokenkit-sample', sample: 'ky', ...tally }));
process.exitCode = tally.failures === 0 ? 0 : 1;

// ---- helpers ---------------------------------------------------------------

/** Makes one API call; a failure is counted and printed, never thrown. */
async function call<T>(request: () => Promise<T>): Promise<T | undefined> {
  tally.apiCalls++;
  try {
    return await request();
  } catch (error) {
    tally.failures++;
    // Errors from the token provider are TokenKitErrors with a stable code; none contains a secret or a token.
    if (isTokenKitError(error)) say(`call failed, no token: ${error.name} ${error.code}: ${error.message}`);
    else if (isHTTPError(error)) say(`call failed: ${error.response.status} ${error.message}`);
    else if (isKyError(error)) say(`call failed: ${error.name} ${error.message}`);
    else say(`call failed: ${String(error)}`);
    return undefined;
  }
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
      console.error(`${name} is not set. See apps/ky-sample/README.md.`);
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
    // The demo stack hands out a JWK as JSON; a PEM (PKCS#8) string works as well.
    privateKey: parsePrivateKey(need('PRIVATE_KEY')),
    tokenRequest: { ...(scope ? { scope } : {}), ...(resource ? { resource } : {}), ...(audience ? { audience } : {}) },
    // ky resolves 'payments' against baseUrl like a browser link: keep one trailing slash.
    apiUrl: need('API_URL').replace(/\/*$/, '/'),
  };
}

function parsePrivateKey(value: string): NonNullable<TokenProviderOptions['privateKey']> {
  return value.trimStart().startsWith('{') ? (JSON.parse(value) as object) : value.replaceAll('\\n', '\n');
}
