// The shared adapter contract, on every got major of the peer range (>=14.6 <17): 14.6.0, 15.1.0 and 16.
import { adapterContract, streamBody, type ContractRequest, type DriverClient } from '@tokenkit/test-utils';
import got14 from 'got-14';
import got15 from 'got-15';
import got16 from 'got';
import { createTokenProvider, tokenHooks, type TokenProvider } from './index.ts';

/** What the driver uses of a got instance, the same in all three majors. */
interface Client {
  (url: string, options: Record<string, unknown>): Promise<{ statusCode: number }>;
  extend(options: Record<string, unknown>): Client;
}
interface Hookable {
  url?: URL | string | undefined;
}

const majors: [string, Client, boolean][] = [
  // got 14 and 15 put prefixUrl before any URL: an absolute one is asked for with prefixUrl '' for the call.
  ['got 14.6.0', got14 as unknown as Client, true],
  ['got 15.1.0', got15 as unknown as Client, true],
  ['got 16', got16 as unknown as Client, false],
];

function driverClient(api: Client, absoluteWithoutPrefix: boolean): DriverClient {
  const options = (request: ContractRequest, throwHttpErrors: boolean) => ({
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    body: request.body === 'stream' ? streamBody() : request.body,
    signal: request.signal,
    timeout: request.timeoutMs === undefined ? {} : { request: request.timeoutMs },
    retry: { limit: 0 },
    throwHttpErrors,
    ...(absoluteWithoutPrefix && /^https?:/.test(request.url) && { prefixUrl: '' }),
  });
  return {
    send: async (request) => ({ status: (await api(request.url, options(request, false))).statusCode }),
    sendWithBase: async (prefixUrl, request) => ({
      status: (await api(request.url, { ...options(request, false), prefixUrl })).statusCode,
    }),
    failure: (request) =>
      api(request.url, options(request, true)).then(
        () => undefined,
        (error: unknown) => error,
      ),
  };
}

for (const [name, got, absoluteWithoutPrefix] of majors) {
  adapterContract<TokenProvider>({
    name: `${name} tokenHooks`,
    createTokenProvider,
    client({ tokens, baseUrl, origins, retryOn401, tls }) {
      const api = got.extend({
        ...(baseUrl !== undefined && { prefixUrl: baseUrl }),
        // A client certificate goes in got's `https` options, as the README shows.
        ...(tls && { https: { certificate: tls.cert, key: tls.key, certificateAuthority: tls.ca } }),
        hooks: tokenHooks(tokens, { origins, retryOn401 }),
      });
      return {
        ...driverClient(api, absoluteWithoutPrefix),
        rewritingTo(origin) {
          // Added after tokenkit's, the README's way to add hooks: tenant routing that changes the URL in place.
          const rewrite = (options: Hookable) => {
            const url = new URL(String(options.url));
            options.url = new URL(url.pathname + url.search, origin);
          };
          return driverClient(api.extend({ hooks: { beforeRequest: [rewrite] } }), absoluteWithoutPrefix);
        },
      };
    },
  });
}
