// The shared adapter contract, run on both @apollo/datasource-rest releases the tests cover (6.2.0 and the current
// one: see compat.test.ts for how 6.2.0 is loaded).
import { adapterContract, streamBody, type ContractRequest, type DriverClient } from '@tokenkit/test-utils';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll } from 'vitest';
import * as current from './index.ts';
import { adapterOn62, versionOf } from './test-helpers.ts';

type Adapter = typeof current;

const agents: Agent[] = [];
afterAll(() => Promise.all(agents.splice(0).map((agent) => agent.close())));

function contractFor(version: string, adapter: Adapter): void {
  /** A data source as users write one; `send` is one request as the contract asks for it. */
  class ContractAPI extends adapter.OAuthRESTDataSource {
    send(request: ContractRequest) {
      const init = {
        method: request.method ?? 'GET',
        headers: request.headers ?? {},
        body: request.body === 'stream' ? streamBody() : request.body,
        signal: request.signal,
        timeout: request.timeoutMs, // node-fetch 2's own per-request timeout
      };
      return this.fetch(request.url, init as never);
    }
  }

  // RESTDataSource throws a GraphQLError for a 4xx/5xx answer; the status is in its extensions.
  const statusOf = (error: unknown): { status: number } => {
    const status = (error as { extensions?: { response?: { status?: unknown } } } | null)?.extensions?.response?.status;
    if (typeof status !== 'number') throw error;
    return { status };
  };
  const driverClient = (api: ContractAPI): DriverClient => ({
    send: (request) => api.send(request).then((result) => ({ status: result.response.status }), statusOf),
    failure: (request) =>
      api.send(request).then(
        () => undefined,
        (error: unknown) => error,
      ),
  });

  adapterContract<current.TokenProvider>({
    name: `apollo OAuthRESTDataSource on @apollo/datasource-rest ${version}`,
    createTokenProvider: adapter.createTokenProvider,
    client({ tokens, baseUrl, origins, retryOn401, tls }) {
      const config = { tokens, origins, retryOn401, ...(tls && { fetch: fetchWith(tls) }) };
      class API extends ContractAPI {
        override baseURL = baseUrl as string; // undefined: none, RESTDataSource's default
      }
      return {
        ...driverClient(new API(config)),
        rewritingTo(origin) {
          class Rewriting extends API {
            // A class field: it does not exist yet while the base constructors run.
            override resolveURL = (path: string) => new URL(path, `${origin}/`);
          }
          return driverClient(new Rewriting(config));
        },
      };
    },
  });
}

/** A client certificate, as the README shows: the data source's `fetch` is undici's, with an Agent holding it. */
function fetchWith(tls: { cert?: string | undefined; key?: string | undefined; ca: string }) {
  const dispatcher = new Agent({ connect: tls });
  agents.push(dispatcher);
  return (url: string, init: unknown) => undiciFetch(url, { ...(init as object), dispatcher }) as never;
}

contractFor(versionOf('datasource-rest-6.2'), await adapterOn62());
contractFor(versionOf('@apollo/datasource-rest'), current);
