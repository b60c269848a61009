// An axios client of the payments API that gets its OAuth 2.0 access tokens
// from tokenkit (client_credentials, client_secret_basic). See README.md for
// the environment variables and how to run it.
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { createTokenProvider, installTokenInterceptor, isTokenKitError } from '@tokenkit/axios';

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
      tally.retries++; // the interceptor dropped a token the API refused and retries the call once
    } else if (event.type === 'refresh') {
      refreshing++;
    } else if (event.type === 'error') {
      if (event.background) refreshing--;
      say(`token request failed: ${event.error.message}`);
    }
  },
});

// The axios instance: the token goes to requests for baseURL's origin, nowhere else.
const payments = axios.create({ baseURL: config.apiUrl, timeout: 5000 });
installTokenInterceptor(payments, tokens);

say('1. ten concurrent calls on a cold cache');
await Promise.all(Array.from({ length: 10 }, () => call(() => payments.get<{ payments: Payment[] }>('/payments'))));
check(tally.tokensFetched === 1, `10 concurrent calls shared ${tally.tokensFetched} token request(s)`);

say('2. create, read and refund payments, 3 calls at a time, until two tokens have expired');
const firstToken = tally.tokensFetched;
const expired = () => expiries.filter((expiresAt) => expiresAt <= Date.now()).length;
for (let round = 1; expired() < 2 && Date.now() - started < 30_000; round++) {
  const created = await call(() => payments.post<Payment>('/payments', { amount: round * 10, currency: 'EUR' }));
  if (created === undefined) {
    await sleep(200);
    continue;
  }
  await Promise.all([
    call(() => payments.get<Payment>(`/payments/${created.data.id}`)),
    call(() => payments.post<Payment>(`/payments/${created.data.id}/refund`)),
    call(() => payments.get<{ payments: Payment[] }>('/payments')),
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
const results = await Promise.all(Array.from({ length: 3 }, () => call(() => payments.get<{ payments: Payment[] }>('/payments'))));
check(
  results.every((r) => r?.status === 200) && tally.retries > before.retries && tally.tokensFetched > before.tokensFetched,
  `${tally.retries - before.retries} call(s) got 401 and were retried once with ${tally.tokensFetched - before.tokensFetched} new token`,
);

say(`done: ${tally.apiCalls} API calls, ${tally.tokensFetched} tokens fetched, ${tally.retries} retried after 401, ${tally.failures} failures`);
console.log(JSON.stringify({ report: 'tokenkit-sample', sample: 'axios', ...tally }));
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
    else if (axios.isAxiosError(error)) say(`call failed: ${error.response?.status ?? error.code} ${error.message}`);
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
      console.error(`${name} is not set. See apps/axios-sample/README.md.`);
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
    apiUrl: need('API_URL'),
  };
}
