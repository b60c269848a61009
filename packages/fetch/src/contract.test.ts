// The shared adapter contract, driven by withTokens around the global fetch, and by tokenInterceptor under
// undici.request with undici's redirect interceptor composed outside it and inside it, on the catalog's undici and
// on the oldest release of the peer range (7.0.0).
import {
  adapterContract,
  streamBody,
  type ContractClientOptions,
  type ContractRequest,
  type DriverClient,
} from '@tokenkit/test-utils';
import * as undici from 'undici';
import * as undici70 from 'undici-7.0';
import type { Dispatcher } from 'undici';
import { afterAll } from 'vitest';
import { createTokenProvider, tokenInterceptor, withTokens, type TokenProvider } from './index.ts';

const agents: Dispatcher[] = [];
afterAll(() => Promise.all(agents.splice(0).map((agent) => agent.close())));

/** fetch has no base URL: the driver resolves paths as a caller would, and the base's origin is one of `origins`. */
const target = (baseUrl: string | undefined, url: string) => new URL(url, baseUrl).href;
const originsOf = ({ baseUrl, origins = [] }: ContractClientOptions) =>
  baseUrl === undefined ? origins : [...origins, baseUrl];
/** fetch and undici.request have no timeout option of their own: `AbortSignal.timeout` is how one is given. */
const signalOf = ({ signal, timeoutMs }: ContractRequest) =>
  timeoutMs === undefined ? signal : AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]);

function fetchClient(api: typeof fetch, baseUrl: string | undefined): DriverClient {
  const send = (r: ContractRequest) => {
    const body =
      r.body === 'stream'
        ? { body: ReadableStream.from(streamBody()), duplex: 'half' as const }
        : r.body === undefined
          ? {}
          : { body: r.body };
    return api(target(baseUrl, r.url), {
      method: r.method ?? 'GET',
      headers: r.headers ?? {},
      ...body,
      signal: signalOf(r) ?? null,
    });
  };
  return {
    async send(r) {
      const response = await send(r);
      await response.arrayBuffer();
      return { status: response.status };
    },
    async failure(r) {
      // fetch resolves a 500: a caller throws an error of their own, holding the response.
      const response = await send(r);
      return response.ok ? undefined : new Error(`${response.status} ${response.statusText}`, { cause: response });
    },
  };
}

adapterContract<TokenProvider>({
  name: 'withTokens (global fetch)',
  createTokenProvider,
  client(options) {
    const api = withTokens(options.tokens, {
      origins: originsOf(options),
      retryOn401: options.retryOn401,
      // A client certificate: undici's fetch with an Agent holding it, as the README shows.
      ...(options.tls && { fetch: fetchWith(options.tls) }),
    });
    return {
      ...fetchClient(api, options.baseUrl),
      // A wrapper added after tokenkit's wraps what withTokens returned: withTokens sees the URL it rewrote.
      rewritingTo: (origin) =>
        fetchClient((input, init) => api(new URL(new URL(String(input)).pathname, origin), init), options.baseUrl),
    };
  },
});

/**
 * undici's fetch over an Agent presenting `tls`; on Bun, Bun's fetch with its own `tls` option, as the README says:
 * there `import 'undici'` is Bun's stand-in, whose Agent is inert (it neither presents the certificate nor trusts
 * the CA; oven-sh/bun#38840).
 */
function fetchWith(tls: NonNullable<ContractClientOptions['tls']>): typeof fetch {
  if ('Bun' in globalThis)
    return ((input: string, init?: RequestInit) => fetch(input, { ...init, tls } as never)) as never;
  const agent = new undici.Agent({ connect: tls });
  agents.push(agent);
  return ((input: string, init?: RequestInit) => undici.fetch(input, { ...init, dispatcher: agent } as never)) as never;
}

/** What the driver uses of an undici release (their types differ in details the driver does not touch). */
interface Undici {
  Agent: new (options?: { connect?: ContractClientOptions['tls'] }) => Dispatcher;
  interceptors: {
    redirect(options: { maxRedirections: number }): Dispatcher.DispatcherComposeInterceptor;
    responseError(): Dispatcher.DispatcherComposeInterceptor;
  };
  request: typeof undici.request;
}

function undiciClient(
  lib: Undici,
  dispatcher: Dispatcher,
  baseUrl: string | undefined,
  failing: Dispatcher,
): DriverClient {
  const send = (r: ContractRequest, via: Dispatcher) =>
    lib.request(target(baseUrl, r.url), {
      dispatcher: via,
      method: r.method ?? 'GET',
      headers: r.headers ?? {},
      body: r.body === 'stream' ? streamBody() : (r.body ?? null),
      signal: signalOf(r) ?? null,
    });
  return {
    async send(r) {
      const { statusCode, body } = await send(r, dispatcher);
      await body.dump();
      return { status: statusCode };
    },
    // undici.request resolves a 500; its responseError interceptor turns it into the error a caller logs.
    failure: (r) =>
      send(r, failing).then(
        () => undefined,
        (error: unknown) => error,
      ),
  };
}

/** An interceptor added after tokenkit's (outside it) that sends every request to `origin`. */
const rewriteTo =
  (origin: string): Dispatcher.DispatcherComposeInterceptor =>
  (dispatch) =>
    function rewrite(opts, handler) {
      return dispatch({ ...opts, origin }, handler);
    };

const releases: [string, Undici][] = [
  ['undici', undici as unknown as Undici],
  ['undici 7.0.0', undici70 as unknown as Undici],
];
for (const [release, lib] of releases)
  for (const redirect of ['outside', 'inside'] as const) {
    adapterContract<TokenProvider>({
      name: `tokenInterceptor (${release}, request(), redirect interceptor ${redirect})`,
      createTokenProvider,
      // Composed inside, undici's redirect interceptor follows hops below ours: no fresh proof can go on them.
      redirectsOutOfSight: redirect === 'inside',
      // undici 8.14 takes `stripHeadersOnRedirect` per request, which the interceptor sets with DPoP; 7.0 does not.
      hopsOutOfSightStripped: redirect === 'inside' && release === 'undici',
      client(options) {
        const make = (...outer: Dispatcher.DispatcherComposeInterceptor[]) => {
          const tokens = tokenInterceptor(options.tokens, {
            origins: originsOf(options),
            retryOn401: options.retryOn401,
          });
          const follow = lib.interceptors.redirect({ maxRedirections: 5 });
          // A client certificate goes on the Agent the interceptor is composed onto.
          const agent = new lib.Agent(options.tls && { connect: options.tls }).compose(
            ...(redirect === 'outside' ? [tokens, follow] : [follow, tokens]),
            ...outer,
          );
          agents.push(agent);
          return agent;
        };
        return {
          ...undiciClient(lib, make(), options.baseUrl, make(lib.interceptors.responseError())),
          rewritingTo: (origin) =>
            undiciClient(
              lib,
              make(rewriteTo(origin)),
              options.baseUrl,
              make(rewriteTo(origin), lib.interceptors.responseError()),
            ),
        };
      },
    });
  }
