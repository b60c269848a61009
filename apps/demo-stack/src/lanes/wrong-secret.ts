// Demo lane: typed errors without secrets. A provider with a wrong client secret, and one whose token endpoint
// cannot be reached, each make an API call through `withTokens`; the call rejects with core's typed error, printed as
// a caller sees it (name, code, message and fields), and the secret that was sent is looked for, in every encoding
// it took on the wire, in every way the error and the provider's events reach a log.
import { randomBytes } from 'node:crypto';
import {
  createTokenProvider,
  isOAuthError,
  isTokenEndpointError,
  isTokenKitError,
  withTokens,
  type TokenEvent,
} from '@tokenkit/fetch';
import { freePort } from '@tokenkit/test-utils';
import { plural, startSample } from '../sample-kit.ts';
import { findSecret } from './leaks.ts';

const demo = startSample({ name: 'errors', readme: 'apps/demo-stack/README.md' });
const { env, need } = demo;
const apiUrl = new URL('/payments', need('API_URL'));
const clientId = need('CLIENT_ID');

/** Makes one API call with a provider of these options; returns what it rejected with and the events seen. */
async function failingCall(
  tokenEndpoint: string,
  clientSecret: string,
): Promise<{ error: unknown; events: TokenEvent[] }> {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint,
    clientId,
    clientSecret, // client_secret_basic: the secret travels base64-encoded in the Authorization header
    scope: env('SCOPE'),
    resource: env('RESOURCE'),
    maxRetries: 0,
    timeoutMs: 15_000,
    onEvent: (event) => events.push(event),
  });
  const api = withTokens(tokens, { origins: [apiUrl.origin] });
  try {
    const res = await api(apiUrl, { signal: AbortSignal.timeout(20_000) });
    await res.body?.cancel();
    return { error: new Error(`the call did not fail: ${res.status}`), events };
  } catch (error) {
    return { error, events };
  }
}

/** Prints the error as the caller sees it and checks that `secret` is in none of its renderings nor the events. */
function show(error: unknown, events: TokenEvent[], secret: string): void {
  if (isTokenKitError(error)) demo.say(`   ${error.name} [code ${error.code}]: ${error.message}`);
  else demo.say(`   ${String(error)}`);
  if (isOAuthError(error))
    demo.say(
      `   error.error: ${error.error}, error.status: ${error.status}, errorDescription: ${error.errorDescription}`,
    );
  const leaks = [
    ...findSecret(error, secret, clientId),
    ...events.flatMap((event) => findSecret(event, secret, clientId)),
  ];
  demo.check(
    leaks.length === 0,
    leaks.length === 0
      ? `the secret is nowhere in it (message, String(), stack, util.inspect, JSON.stringify, ${plural(events.length, 'token event')}): not as is, encoded, nor in the Basic header`
      : `the secret leaked: ${leaks.join('; ')}`,
  );
}

// 1. A wrong client secret, with characters every encoding changes.
const wrongSecret = `wrong secret ${randomBytes(6).toString('hex')} p@ss:w/rd+%`;
demo.say('1. GET /payments with a wrong client secret; the call rejects with:');
const wrong = await failingCall(need('TOKEN_URL'), wrongSecret);
show(wrong.error, wrong.events, wrongSecret);
demo.check(
  isOAuthError(wrong.error) && wrong.error.error === 'invalid_client',
  'a typed OAuthError with error invalid_client: code can tell "fix the credentials" from an outage',
);

// 2. The right secret, but the token endpoint cannot be reached (nothing listens on that port).
const secret = need('CLIENT_SECRET');
const closed = `http://127.0.0.1:${await freePort()}/token`;
demo.say(`2. GET /payments while the token endpoint ${closed} is down; the call rejects with:`);
const down = await failingCall(closed, secret);
show(down.error, down.events, secret);
demo.check(
  isTokenEndpointError(down.error) && down.error.code === 'network',
  "a typed TokenEndpointError with code 'network': an outage, worth a retry later",
);

demo.report();
