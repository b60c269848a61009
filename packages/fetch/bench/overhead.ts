// What withTokens and tokenInterceptor cost per request: sequential loopback GETs through each, against the same
// client sending a static Authorization header (Node's fetch; undici.request on an Agent), taking turns request
// by request, in rounds after a warm-up (the shared harness, @tokenkit/bench-kit, packages/bench-kit/src/paired.ts).
// Build first, then:
//   pnpm -F @tokenkit/fetch bench [--quick] [--requests N] [--rounds N] [--interceptor] [--dpop] [--floor] [--markdown]
// Without --interceptor it measures withTokens, with it tokenInterceptor. --dpop: a DPoP provider (a fresh ES256
// proof per request) against the same client sending a static pair of headers (Authorization and one proof).
// --floor: undici's own cost of an interceptor like ours, with nothing of tokenkit's in it (see floorInterceptor);
// with --markdown it prints that as a section of docs/benchmarks.md.
// Import `measureOverhead` to run it from elsewhere (apps/bench runs both, each in a process of its own).
import { createTokenProvider, tokenInterceptor, withTokens } from '@tokenkit/fetch';
import {
  benchArgs,
  measureAdapterOverhead,
  measurePaired,
  pairedTable,
  printPaired,
  renderMarkdownBody,
  type PairedResult,
} from '@tokenkit/bench-kit';
import { startRecorder, startTokenServer } from '@tokenkit/test-utils';
import { Agent, request, type Dispatcher } from 'undici';

export type { PairedRound as OverheadRound } from '@tokenkit/bench-kit';

/** The overhead target of both adapters: fetch has no hook machinery of its own to pay for (the others: 0.97). */
const TARGET = 0.98;

/** Which of the package's two adapters. */
export type FetchAdapter = 'withTokens' | 'tokenInterceptor';

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
 * An interceptor that does what undici makes any token interceptor pay for, and nothing of tokenkit's: composed onto
 * the Agent, it copies the dispatch options with the static header and dispatches them with a handler that passes
 * every callback on (the handler a 401 retry needs to see the answer).
 */
function floorInterceptor(authorization: string): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch({ ...opts, headers: { ...(opts.headers as object), authorization } }, new PassOn(handler));
}

class PassOn implements Dispatcher.DispatchHandler {
  readonly handler: Dispatcher.DispatchHandler;
  constructor(handler: Dispatcher.DispatchHandler) {
    this.handler = handler;
  }
  onRequestStart(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestStart']>>) {
    this.handler.onRequestStart?.(...args);
  }
  onResponseStart(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>) {
    this.handler.onResponseStart?.(...args);
  }
  onResponseData(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseData']>>) {
    this.handler.onResponseData?.(...args);
  }
  onResponseEnd(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseEnd']>>) {
    this.handler.onResponseEnd?.(...args);
  }
  onResponseError(...args: Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseError']>>) {
    this.handler.onResponseError?.(...args);
  }
}

/**
 * Sequential loopback requests to a real API through `adapter` and with a static header: a warm-up, then
 * `rounds` rounds of `requests` requests per variant, the two interleaved request by request. `floor` (with
 * tokenInterceptor): {@link floorInterceptor} in place of tokenInterceptor.
 */
export async function measureOverhead({
  requests = 5000,
  rounds = 5,
  adapter = 'withTokens',
  floor = false,
}: {
  requests?: number;
  rounds?: number;
  adapter?: FetchAdapter;
  floor?: boolean;
} = {}): Promise<PairedResult> {
  const result = await measureAdapterOverhead(
    createTokenProvider,
    ({ tokens, authorization, api }) => {
      const url = `${api.origin}/payments`;
      if (adapter === 'withTokens') {
        const send = withTokens(tokens, { origins: [api.origin] });
        return {
          adapter: () => fetchGet(send, url),
          baseline: () => fetchGet(fetch, url, { headers: { authorization } }),
        };
      }
      const interceptor = floor ? floorInterceptor(authorization) : tokenInterceptor(tokens, { origins: [api.origin] });
      const withToken = new Agent().compose(interceptor);
      const plain = new Agent();
      return {
        adapter: () => undiciGet(url, withToken),
        baseline: () => undiciGet(url, plain, { authorization }),
        close: () => Promise.all([withToken.close(), plain.close()]),
      };
    },
    { requests, rounds },
  );
  return floor ? result : { ...result, target: TARGET };
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
} = {}): Promise<PairedResult> {
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
    return result;
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } }, [
    'interceptor',
    'dpop',
    'floor',
  ]);
  const floor = options.flags['floor'] === true;
  const adapter: FetchAdapter = options.flags['interceptor'] === true || floor ? 'tokenInterceptor' : 'withTokens';
  if (options.flags['dpop'] === true)
    printPaired(`@tokenkit/fetch ${adapter} overhead with DPoP`, await measureDPoPOverhead({ ...options, adapter }), {
      adapter: `${adapter} (DPoP)`,
      baseline: 'static Authorization + DPoP',
    });
  else if (floor) {
    const title = "undici's own cost of the interceptor @tokenkit/fetch needs";
    const result = await measureOverhead({ ...options, adapter, floor });
    const note =
      'The adapter side is an Agent composed with an interceptor that copies the dispatch options with the same static ' +
      "header and dispatches them with a handler passing every callback on, nothing of tokenkit's: what " +
      "`Dispatcher.compose()` charges any interceptor that can see a 401, the floor under tokenInterceptor's ratio. " +
      'Measured by packages/fetch/bench/overhead.ts --floor.';
    if (options.markdown)
      console.log(renderMarkdownBody(pairedTable(title, result, { adapter: 'no-op interceptor', note })));
    else printPaired(title, result, { adapter: 'no-op interceptor' });
  } else
    printPaired(`@tokenkit/fetch ${adapter} overhead`, await measureOverhead({ ...options, adapter }), { adapter });
}
