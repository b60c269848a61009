// What withTokens and tokenInterceptor cost per request: sequential loopback GETs through each, against the same
// client sending a static Authorization header (Node's fetch; undici.request on an Agent), taking turns request
// by request, in rounds after a warm-up (the shared harness, @tokenkit/bench-kit, packages/bench-kit/src/paired.ts).
// Build first, then:
//   pnpm -F @tokenkit/fetch bench [--quick] [--requests N] [--rounds N] [--interceptor] [--dpop]
// Without --interceptor it measures withTokens, with it tokenInterceptor. --dpop: a DPoP provider (a fresh ES256
// proof per request) against the same client sending a static pair of headers (Authorization and one proof).
// Import `measureOverhead` to run it from elsewhere (apps/bench runs both, each in a process of its own).
import { createTokenProvider, tokenInterceptor, withTokens } from '@tokenkit/fetch';
import { benchArgs, measurePaired, printPaired, withBenchServers, type PairedResult } from '@tokenkit/bench-kit';
import { startRecorder, startTokenServer } from '@tokenkit/test-utils';
import { Agent, request, type Dispatcher } from 'undici';

export type { PairedRound as OverheadRound } from '@tokenkit/bench-kit';

/** Which of the package's two adapters. */
export type FetchAdapter = 'withTokens' | 'tokenInterceptor';

export interface OverheadResult extends PairedResult {
  adapter: FetchAdapter;
  client: 'fetch' | 'undici';
}

/** One GET with fetch; anything but 200 stops the bench. */
async function fetchGet(send: typeof fetch, url: string, init?: RequestInit): Promise<void> {
  const res = await send(url, init);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`unexpected status ${res.status}`);
}

/** One GET with undici.request; anything but 200 stops the bench. */
async function undiciGet(url: string, dispatcher: Dispatcher, headers?: Record<string, string>): Promise<void> {
  const { statusCode, body } = await request(url, headers === undefined ? { dispatcher } : { dispatcher, headers });
  await body.dump();
  if (statusCode !== 200) throw new Error(`unexpected status ${statusCode}`);
}

/**
 * Sequential loopback requests to a real API through `adapter` and with a static header: a warm-up, then
 * `rounds` rounds of `requests` requests per variant, the two interleaved request by request.
 */
export async function measureOverhead({
  requests = 5000,
  rounds = 5,
  adapter = 'withTokens',
}: {
  requests?: number;
  rounds?: number;
  adapter?: FetchAdapter;
} = {}): Promise<OverheadResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const authorization = await tokens.authorizationHeader();
    const url = `${api.origin}/payments`;
    let result: PairedResult;
    if (adapter === 'withTokens') {
      const send = withTokens(tokens, { origins: [api.origin] });
      result = await measurePaired({
        adapter: () => fetchGet(send, url),
        baseline: () => fetchGet(fetch, url, { headers: { authorization } }),
        requests,
        rounds,
      });
    } else {
      const withToken = new Agent().compose(tokenInterceptor(tokens, { origins: [api.origin] }));
      const plain = new Agent();
      try {
        result = await measurePaired({
          adapter: () => undiciGet(url, withToken),
          baseline: () => undiciGet(url, plain, { authorization }),
          requests,
          rounds,
        });
      } finally {
        await Promise.all([withToken.close(), plain.close()]);
      }
    }
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return { adapter, client: adapter === 'withTokens' ? 'fetch' : 'undici', ...result };
  });
}

/**
 * {@link measureOverhead} with DPoP: the adapter signs a proof per request; the baseline sends a static
 * `Authorization: DPoP <token>` and one fixed proof. The API is a recorder that answers 200 to anything (proofs are
 * verified by the tests, not here).
 */
export async function measureDPoPOverhead({
  requests = 5000,
  rounds = 5,
  adapter = 'withTokens',
}: {
  requests?: number;
  rounds?: number;
  adapter?: FetchAdapter;
} = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const api = await startRecorder();
  try {
    tokenServer.misbehave((_request, n) => ({
      status: 200,
      body: { access_token: `at-dpop-${n}`, token_type: 'DPoP', expires_in: 3600 },
    }));
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
      dpop: true,
    });
    const url = `${api.origin}/payments`;
    const pair = await tokens.requestHeaders('GET', url);
    const headers = { ...pair };
    // The recorder keeps every request's headers: emptied after each round.
    const clear = () => {
      api.authorizations.splice(0);
      api.dpops.splice(0);
    };
    let result: PairedResult;
    if (adapter === 'withTokens') {
      const send = withTokens(tokens, { origins: [api.origin] });
      result = await measurePaired({
        adapter: () => fetchGet(send, url),
        baseline: () => fetchGet(fetch, url, { headers }),
        requests,
        rounds,
        afterRound: clear,
      });
    } else {
      const withToken = new Agent().compose(tokenInterceptor(tokens, { origins: [api.origin] }));
      const plain = new Agent();
      try {
        result = await measurePaired({
          adapter: () => undiciGet(url, withToken),
          baseline: () => undiciGet(url, plain, headers),
          requests,
          rounds,
          afterRound: clear,
        });
      } finally {
        await Promise.all([withToken.close(), plain.close()]);
      }
    }
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return { adapter, client: adapter === 'withTokens' ? 'fetch' : 'undici', ...result };
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } }, [
    'interceptor',
    'dpop',
  ]);
  const adapter: FetchAdapter = options.flags['interceptor'] === true ? 'tokenInterceptor' : 'withTokens';
  if (options.flags['dpop'] === true)
    printPaired(`@tokenkit/fetch ${adapter} overhead with DPoP`, await measureDPoPOverhead({ ...options, adapter }), {
      adapter: `${adapter} (DPoP)`,
      baseline: 'static Authorization + DPoP',
    });
  else printPaired(`@tokenkit/fetch ${adapter} overhead`, await measureOverhead({ ...options, adapter }), { adapter });
}
