// The shared adapter contract, on the oldest axios of the peer range and on the current one.
import { adapterContract, streamBody, type ContractRequest, type DriverClient } from '@tokenkit/test-utils';
import { Agent } from 'node:https';
import axios, { type AxiosInstance, type AxiosRequestConfig } from 'axios';
import axios10 from 'axios-1.0';
import { afterAll } from 'vitest';
import { createTokenProvider, installTokenInterceptor, type TokenProvider } from './index.ts';

const releases: [string, { create(config: AxiosRequestConfig): unknown }][] = [
  ['axios 1.0.0', axios10 as never],
  ['axios (current)', axios],
];

function config(request: ContractRequest): AxiosRequestConfig {
  // The query goes in `params`: axios 1.0 drops the `?` of a query written into the URL (`pathname.concat(searchParams)`).
  const [url = '', query] = request.url.split('?', 2);
  return {
    url,
    ...(query === undefined ? {} : { params: new URLSearchParams(query) }),
    method: request.method ?? 'GET',
    headers: request.headers ?? {},
    data: request.body === 'stream' ? streamBody() : request.body,
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    ...(request.timeoutMs === undefined ? {} : { timeout: request.timeoutMs }),
    validateStatus: () => true,
  };
}

function driverClient(api: AxiosInstance): DriverClient {
  return {
    send: async (request) => ({ status: (await api.request(config(request))).status }),
    failure: (request) =>
      api.request({ ...config(request), validateStatus: (status) => status < 400 }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    // A per-request baseURL, which axios merges over the instance's.
    sendWithBase: async (baseURL, request) => ({ status: (await api.request({ ...config(request), baseURL })).status }),
  };
}

const agents: Agent[] = [];
afterAll(() => agents.splice(0).forEach((agent) => agent.destroy()));

for (const [name, lib] of releases) {
  adapterContract<TokenProvider>({
    name: `${name} installTokenInterceptor`,
    createTokenProvider,
    client({ tokens, baseUrl, origins, retryOn401, tls }) {
      // A client certificate goes on an httpsAgent, as the README shows.
      const httpsAgent = tls && new Agent(tls);
      if (httpsAgent) agents.push(httpsAgent);
      const make = () => {
        const api = lib.create({
          ...(baseUrl !== undefined && { baseURL: baseUrl }),
          ...(httpsAgent && { httpsAgent }),
        }) as AxiosInstance;
        installTokenInterceptor(api, tokens, { origins, retryOn401 });
        return api;
      };
      return {
        ...driverClient(make()),
        rewritingTo(origin) {
          const api = make();
          // Added after tokenkit was installed, changing the config in place as tenant-routing and URL-signing
          // interceptors do. Every request interceptor runs before the transport, where tokenkit decides.
          api.interceptors.request.use((c) => {
            c.baseURL = origin;
            return c;
          });
          return driverClient(api);
        },
      };
    },
  });
}
