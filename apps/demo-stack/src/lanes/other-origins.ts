// Demo lane: no token to other hosts or across redirects. One `withTokens` fetch for the payments API sends a
// request to a second origin (a receipts host on another port) and follows the API's cross-origin redirect there;
// the second origin then says what it received. Every adapter is held to the same rules by the shared adapter
// contract suite (packages/test-utils/src/adapter-contract.ts); this lane shows them on @tokenkit/fetch.
import { createTokenProvider, isTokenKitError, withTokens } from '@tokenkit/fetch';
import { startSample, type Payment } from '../sample-kit.ts';
import type { ReceivedRequest } from '../second-origin.ts';

const demo = startSample({ name: 'origins', isTokenKitError, readme: 'apps/demo-stack/README.md' });
const { env, need } = demo;

const tokens = createTokenProvider({
  tokenEndpoint: need('TOKEN_URL'),
  clientId: need('CLIENT_ID'),
  clientSecret: need('CLIENT_SECRET'),
  clientAuthMethod: 'client_secret_post',
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  onEvent: demo.onTokenEvent,
});
const apiUrl = new URL(need('API_URL'));
const other = new URL(need('SECOND_ORIGIN_URL'));
const api = withTokens(tokens, { origins: [apiUrl.origin] });
const timeout = () => AbortSignal.timeout(15_000);

/** What the second origin has received so far (its own record; reading it is not recorded). */
async function receivedBySecondOrigin(): Promise<ReceivedRequest[]> {
  const answer = await fetch(new URL('/admin/received', other), { signal: timeout() });
  return ((await answer.json()) as { received: ReceivedRequest[] }).received;
}
const earlier = (await receivedBySecondOrigin()).length; // only this lane's requests count

demo.say(`the token goes to ${apiUrl.origin} only; ${other.origin} is another origin (another port)`);
const payment = await demo.call(async () => {
  const res = await api(new URL('/payments', apiUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 42, currency: 'EUR' }),
    signal: timeout(),
  });
  if (res.status !== 201) throw new Error(`POST /payments answered ${res.status}`);
  return (await res.json()) as Payment;
});
if (payment !== undefined) demo.say(`POST ${apiUrl.origin}/payments with the token: 201, payment ${payment.id}`);

// 1. A URL that names another host, through the very fetch that carries the token to the API (not an API call).
try {
  const res = await api(new URL('/public/terms.pdf', other), { signal: timeout() });
  await res.body?.cancel();
  demo.say(`1. GET ${other.origin}/public/terms.pdf through the same fetch: ${res.status}`);
} catch (error) {
  demo.fail(`1. GET ${other.origin}/public/terms.pdf failed: ${String(error)}`);
}

// 2. The API answers with a redirect to another origin, as an API handing out pre-signed file URLs does.
if (payment !== undefined) {
  const path = `/payments/${payment.id}/receipt`;
  const res = await demo.call(() => api(new URL(path, apiUrl), { signal: timeout() }));
  if (res !== undefined) {
    await res.body?.cancel();
    demo.say(
      `2. GET ${apiUrl.origin}${path} with the token: 302 to ${other.origin}, followed: ${res.status} from ${res.url}`,
    );
    demo.check(new URL(res.url).origin === other.origin, 'the redirect was followed to the second origin');
  }
}

const received = (await receivedBySecondOrigin()).slice(earlier);
demo.say(`what ${other.origin} received:`);
for (const request of received) {
  demo.say(
    `   ${request.method} ${request.path}: ${request.authorization ? 'an Authorization header!' : 'no Authorization'} (headers: ${request.headers.join(', ')})`,
  );
}
demo.check(
  received.length === 2 && received.every((request) => !request.authorization),
  `${received.length} requests reached the second origin, none with a token (the API's two calls carried it)`,
);

demo.report();
