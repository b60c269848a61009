// The shared adapter contract (packages/test-utils/src/adapter-contract.ts) on the oldest ky of the peer range,
// 2.0.0, and on the current one, set up both ways: withTokens (the instance's own base) and tokenHooks (origins).
import { Readable } from 'node:stream';
import {
  adapterContract,
  streamBody,
  type ContractClientOptions,
  type ContractRequest,
  type DriverClient,
} from '@tokenkit/test-utils';
import { Agent, fetch as undiciFetch } from 'undici';
import { Agent as Agent7 } from 'undici-7.0';
import { afterAll } from 'vitest';
import ky20 from 'ky-2.0';
import kyCurrent, { type KyInstance, type Options } from 'ky';
import { createTokenProvider, tokenHooks, withTokens, type TokenProvider } from './index.ts';

function options(request: ContractRequest): Options {
  const o: Options = {
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    timeout: request.timeoutMs ?? 10_000,
    throwHttpErrors: false,
  };
  if (request.body !== undefined)
    o.body = request.body === 'stream' ? (Readable.toWeb(streamBody()) as ReadableStream<Uint8Array>) : request.body;
  if (request.signal !== undefined) o.signal = request.signal;
  return o;
}

function driverClient(api: KyInstance): DriverClient {
  return {
    send: async (request) => ({ status: (await api(request.url, options(request))).status }),
    // retry: 0, so that the request in ky's error is the one our token went on (not ky's clean copy for retries).
    failure: (request) =>
      api(request.url, { ...options(request), throwHttpErrors: true, retry: 0 }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    // A hook added after tokenkit's that sends the request elsewhere, as tenant-routing hooks do.
    rewritingTo: (origin) =>
      driverClient(
        api.extend({
          hooks: { beforeRequest: [({ request }) => new Request(origin + new URL(request.url).pathname, request)] },
        }),
      ),
    sendWithBase: async (baseUrl, request) => ({
      status: (await api(request.url, { ...options(request), baseUrl })).status,
    }),
  };
}

const agents: (Agent | Agent7)[] = [];
afterAll(() => Promise.all(agents.splice(0).map((agent) => agent.close())));
// Node's own fetch takes a dispatcher only from an undici of the major version it bundles.
const nodeUndici7 = process.versions.undici?.startsWith('7.') === true;

/** A client certificate, the README's two ways: undici's fetch with an Agent, or an undici 7 Agent as `dispatcher`. */
function tlsOptions(tls: ContractClientOptions['tls'], dispatcherOption = false): Options {
  if (tls === undefined) return {};
  if (dispatcherOption && nodeUndici7) {
    const dispatcher = new Agent7({ connect: tls });
    agents.push(dispatcher);
    // Its type is Node's undici-types, which differ in detail from undici 7.0.0's own.
    return { dispatcher: dispatcher as unknown as NonNullable<RequestInit['dispatcher']> };
  }
  const dispatcher = new Agent({ connect: tls });
  agents.push(dispatcher);
  return {
    // ky hands fetch a Request; undici's fetch sends it with the agent
    fetch: (input, init) => {
      const request = new Request(input, init);
      return undiciFetch(request.url, {
        method: request.method,
        headers: [...request.headers],
        body: request.body,
        duplex: 'half',
        signal: request.signal,
        redirect: request.redirect,
        dispatcher,
      }) as unknown as Promise<Response>;
    },
  };
}

const base = (baseUrl: string | undefined): Options => (baseUrl === undefined ? {} : { baseUrl });
const drivers: [string, (options: ContractClientOptions<TokenProvider>) => KyInstance][] = [
  [
    'ky 2.0.0 withTokens',
    (o) =>
      withTokens((ky20 as unknown as KyInstance).create({ ...base(o.baseUrl), ...tlsOptions(o.tls) }), o.tokens, {
        origins: o.origins,
        retryOn401: o.retryOn401,
      }),
  ],
  [
    'ky withTokens',
    (o) =>
      withTokens(kyCurrent.create({ ...base(o.baseUrl), ...tlsOptions(o.tls) }), o.tokens, {
        origins: o.origins,
        retryOn401: o.retryOn401,
      }),
  ],
  [
    'ky tokenHooks',
    ({ tokens, baseUrl, origins = [], retryOn401, tls }) =>
      kyCurrent.create({
        ...base(baseUrl),
        ...tlsOptions(tls, true),
        hooks: tokenHooks(tokens, {
          origins: baseUrl === undefined ? origins : [new URL(baseUrl).origin, ...origins],
          retryOn401,
        }),
      }),
  ],
];

for (const [name, make] of drivers)
  adapterContract<TokenProvider>({ name, createTokenProvider, client: (o) => driverClient(make(o)) });
