// Every contender, made the way its own README says, behind one small interface:
// `get(path)` sends one GET to the API and resolves to the HTTP status the caller
// finally saw (0 for a network error); it never rejects.
import { RESTDataSource, type AugmentedRequest } from '@apollo/datasource-rest';
import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client';
import { installTokenInterceptor } from '@tokenkit/axios';
import { OAuthRESTDataSource, type OAuthDataSourceConfig } from '@tokenkit/apollo';
import { createTokenProvider, type TokenProvider, type TokenProviderOptions } from '@tokenkit/core';
import { tokenInterceptor as fetchTokenInterceptor, withTokens } from '@tokenkit/fetch';
import { tokenHooks as gotTokenHooks } from '@tokenkit/got';
import { withTokens as kyWithTokens } from '@tokenkit/ky';
import axios, { type AxiosInstance } from 'axios';
import { clientCredentials } from 'axios-oauth-client';
import tokenInterceptor from 'axios-token-interceptor';
import got from 'got';
import ky from 'ky';
import * as oidc from 'openid-client';
import { ClientCredentials } from 'simple-oauth2';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';

export const CLIENT_ID = 'client-id';
export const CLIENT_SECRET = 'client-secret';

export type HttpClient = 'axios' | 'got' | 'ky' | 'apollo' | 'fetch' | 'undici';
export type Kind = 'tokenkit' | 'static' | 'peer';

/** Where a contender gets tokens and sends requests. */
export interface Endpoints {
  tokenUrl: string;
  apiOrigin: string;
}

export interface SetupOptions {
  /** tokenkit provider options on top of endpoint and credentials (e.g. skew settings). */
  tokenkit?: Partial<TokenProviderOptions>;
  /** simple-oauth2's `expired(window)` in seconds. Default 300, its README's value. */
  expirationWindowSeconds?: number;
  /** For static contenders: the Authorization value to send. */
  staticHeader?: string;
}

export interface Contender {
  /** `Authorization` on every request, then `get()`. */
  get(path: string): Promise<number>;
  /** The library's cached-token getter (tokenkit: `getToken()`), when it has one. */
  getToken?: () => Promise<unknown>;
  /** The tokenkit provider behind it, if any. */
  tokens?: TokenProvider;
  close?: () => void;
}

export interface Library {
  id: string;
  label: string;
  kind: Kind;
  client: HttpClient;
  /** How the library is used here, for the report. */
  usage: string;
  setup(endpoints: Endpoints, options?: SetupOptions): Promise<Contender>;
  /**
   * tokenkit only: the bench that measures its request overhead, `packages/<pkg>/bench/overhead.ts`, and options
   * for its `measureOverhead()`. Default: the package named by the id (`tokenkit-<pkg>`).
   */
  overhead?: { pkg: string; options?: Record<string, unknown> };
}

const statusOfAxios = (error: unknown): number => (axios.isAxiosError(error) ? (error.response?.status ?? 0) : 0);
const statusOf = (error: unknown, key: 'status' | 'statusCode'): number => {
  const response = (error as { response?: Record<string, unknown> } | null)?.response;
  const status = response?.[key];
  return typeof status === 'number' ? status : 0;
};

function axiosGet(api: AxiosInstance) {
  return (path: string) => api.get(`/${path}`).then((r) => r.status, statusOfAxios);
}

async function undiciGet(url: string, dispatcher: Dispatcher, headers?: Record<string, string>): Promise<number> {
  try {
    const { statusCode, body } = await undiciRequest(
      url,
      headers === undefined ? { dispatcher } : { dispatcher, headers },
    );
    await body.dump();
    return statusCode;
  } catch {
    return 0;
  }
}

async function fetchGet(url: string, init?: RequestInit, send: typeof fetch = fetch): Promise<number> {
  try {
    const res = await send(url, init);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

function provider(endpoints: Endpoints, options: SetupOptions | undefined): TokenProvider {
  return createTokenProvider({
    tokenEndpoint: endpoints.tokenUrl,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...options?.tokenkit,
  });
}

/** Apollo's `get()` is protected: a data source with one public method, as an app would write it. */
class TokenkitPayments extends OAuthRESTDataSource {
  constructor(config: OAuthDataSourceConfig, baseURL: string) {
    super(config);
    this.baseURL = baseURL;
  }
  fetchPath(path: string): Promise<unknown> {
    return this.get(path);
  }
}

class StaticPayments extends RESTDataSource {
  readonly #header: string;
  constructor(baseURL: string, header: string) {
    super();
    this.baseURL = baseURL;
    this.#header = header;
  }
  protected override willSendRequest(_path: string, request: AugmentedRequest): void {
    request.headers['authorization'] = this.#header;
  }
  fetchPath(path: string): Promise<unknown> {
    return this.get(path);
  }
}

const apolloGet = (source: { fetchPath(path: string): Promise<unknown> }) => (path: string) =>
  source.fetchPath(path).then(
    () => 200,
    (error: unknown) => {
      const status = (error as { extensions?: { response?: { status?: unknown } } } | null)?.extensions?.response
        ?.status;
      return typeof status === 'number' ? status : 0;
    },
  );

const requireHeader = (options: SetupOptions | undefined): string => {
  if (options?.staticHeader === undefined) throw new Error('a static contender needs options.staticHeader');
  return options.staticHeader;
};

// ---- the contenders ----------------------------------------------------------

export const tokenkitLibraries: Library[] = [
  {
    id: 'tokenkit-axios',
    label: '@tokenkit/axios',
    kind: 'tokenkit',
    client: 'axios',
    usage: '`installTokenInterceptor(axios.create({ baseURL }), tokens)`',
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const api = axios.create({ baseURL: endpoints.apiOrigin });
      installTokenInterceptor(api, tokens);
      return { get: axiosGet(api), getToken: () => tokens.getToken(), tokens };
    },
  },
  {
    id: 'tokenkit-got',
    label: '@tokenkit/got',
    kind: 'tokenkit',
    client: 'got',
    usage: '`got.extend({ prefixUrl, hooks: tokenHooks(tokens) })`',
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const api = got.extend({ prefixUrl: endpoints.apiOrigin, hooks: gotTokenHooks(tokens) });
      return {
        get: (path) =>
          api.get(path).then(
            (r) => r.statusCode,
            (e: unknown) => statusOf(e, 'statusCode'),
          ),
        getToken: () => tokens.getToken(),
        tokens,
      };
    },
  },
  {
    id: 'tokenkit-ky',
    label: '@tokenkit/ky',
    kind: 'tokenkit',
    client: 'ky',
    usage: '`withTokens(ky.create({ baseUrl }), tokens)`',
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const api = kyWithTokens(ky.create({ baseUrl: endpoints.apiOrigin }), tokens);
      return { get: (path) => kyGet(api, path), getToken: () => tokens.getToken(), tokens };
    },
  },
  {
    id: 'tokenkit-apollo',
    label: '@tokenkit/apollo',
    kind: 'tokenkit',
    client: 'apollo',
    usage: '`class X extends OAuthRESTDataSource`, `new X({ tokens })`',
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const source = new TokenkitPayments({ tokens }, `${endpoints.apiOrigin}/`);
      return { get: apolloGet(source), getToken: () => tokens.getToken(), tokens };
    },
  },
  {
    id: 'tokenkit-fetch',
    label: '@tokenkit/fetch withTokens',
    kind: 'tokenkit',
    client: 'fetch',
    usage: "`withTokens(tokens, { origins: [apiOrigin] })` around Node's fetch",
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const send = withTokens(tokens, { origins: [endpoints.apiOrigin] });
      return {
        get: (path) => fetchGet(`${endpoints.apiOrigin}/${path}`, undefined, send),
        getToken: () => tokens.getToken(),
        tokens,
      };
    },
  },
  {
    id: 'tokenkit-fetch-interceptor',
    label: '@tokenkit/fetch tokenInterceptor',
    kind: 'tokenkit',
    client: 'undici',
    usage: '`new Agent().compose(tokenInterceptor(tokens, { origins: [apiOrigin] }))`, requests with `undici.request`',
    overhead: { pkg: 'fetch', options: { adapter: 'tokenInterceptor' } },
    async setup(endpoints, options) {
      const tokens = provider(endpoints, options);
      const agent = new Agent().compose(fetchTokenInterceptor(tokens, { origins: [endpoints.apiOrigin] }));
      return {
        get: (path) => undiciGet(`${endpoints.apiOrigin}/${path}`, agent),
        getToken: () => tokens.getToken(),
        tokens,
        close: () => void agent.close(),
      };
    },
  },
];

async function kyGet(api: typeof ky, path: string): Promise<number> {
  try {
    const res = await api.get(path);
    await res.arrayBuffer();
    return res.status;
  } catch (error) {
    return statusOf(error, 'status');
  }
}

/** The same HTTP clients with a fixed `Authorization` header: what a request costs without any token logic. */
export const staticLibraries: Library[] = [
  {
    id: 'static-axios',
    label: 'axios, static header',
    kind: 'static',
    client: 'axios',
    usage: '`axios.create({ baseURL, headers: { Authorization } })`',
    async setup(endpoints, options) {
      const api = axios.create({ baseURL: endpoints.apiOrigin, headers: { Authorization: requireHeader(options) } });
      return { get: axiosGet(api) };
    },
  },
  {
    id: 'static-got',
    label: 'got, static header',
    kind: 'static',
    client: 'got',
    usage: '`got.extend({ prefixUrl, headers: { authorization } })`',
    async setup(endpoints, options) {
      const api = got.extend({ prefixUrl: endpoints.apiOrigin, headers: { authorization: requireHeader(options) } });
      return {
        get: (path) =>
          api.get(path).then(
            (r) => r.statusCode,
            (e: unknown) => statusOf(e, 'statusCode'),
          ),
      };
    },
  },
  {
    id: 'static-ky',
    label: 'ky, static header',
    kind: 'static',
    client: 'ky',
    usage: '`ky.create({ baseUrl, headers: { authorization } })`',
    async setup(endpoints, options) {
      const api = ky.create({ baseUrl: endpoints.apiOrigin, headers: { authorization: requireHeader(options) } });
      return { get: (path) => kyGet(api, path) };
    },
  },
  {
    id: 'static-apollo',
    label: 'RESTDataSource, static header',
    kind: 'static',
    client: 'apollo',
    usage: '`RESTDataSource` whose `willSendRequest` sets the header',
    async setup(endpoints, options) {
      const source = new StaticPayments(`${endpoints.apiOrigin}/`, requireHeader(options));
      return { get: apolloGet(source) };
    },
  },
  {
    id: 'static-fetch',
    label: 'fetch, static header',
    kind: 'static',
    client: 'fetch',
    usage: "`fetch(url, { headers: { authorization } })` (Node's undici)",
    async setup(endpoints, options) {
      const headers = { authorization: requireHeader(options) };
      return { get: (path) => fetchGet(`${endpoints.apiOrigin}/${path}`, { headers }) };
    },
  },
  {
    id: 'static-undici',
    label: 'undici.request, static header',
    kind: 'static',
    client: 'undici',
    usage: '`undici.request(url, { dispatcher: new Agent(), headers: { authorization } })`',
    async setup(endpoints, options) {
      const headers = { authorization: requireHeader(options) };
      const agent = new Agent();
      return {
        get: (path) => undiciGet(`${endpoints.apiOrigin}/${path}`, agent, headers),
        close: () => void agent.close(),
      };
    },
  },
];

interface TokenBody {
  access_token: string;
  expires_in: number;
}

export const peerLibraries: Library[] = [
  {
    id: 'axios-oauth-client',
    label: 'axios-oauth-client + axios-token-interceptor',
    kind: 'peer',
    client: 'axios',
    usage:
      "axios-oauth-client's `clientCredentials(axios.create(), url, id, secret)` as the token source; axios-token-interceptor's " +
      'README caching recipe: `tokenProvider.tokenCache(() => getClientCredentials(), { getMaxAge: (body) => body.expires_in * 1000 })` ' +
      "and `api.interceptors.request.use(tokenProvider({ getToken: cache, headerFormatter: (body) => 'Bearer ' + body.access_token }))`",
    async setup(endpoints) {
      const getClientCredentials = clientCredentials(axios.create(), endpoints.tokenUrl, CLIENT_ID, CLIENT_SECRET) as (
        scope?: string,
      ) => Promise<TokenBody>;
      const cache = tokenInterceptor.tokenCache(() => getClientCredentials(), {
        getMaxAge: (body) => (body as TokenBody).expires_in * 1000,
      });
      const api = axios.create({ baseURL: endpoints.apiOrigin });
      api.interceptors.request.use(
        tokenInterceptor({ getToken: cache, headerFormatter: (body) => `Bearer ${(body as TokenBody).access_token}` }),
      );
      return { get: axiosGet(api), getToken: () => cache() };
    },
  },
  {
    id: 'badgateway',
    label: '@badgateway/oauth2-client',
    kind: 'peer',
    client: 'fetch',
    usage:
      '`new OAuth2Fetch({ client: new OAuth2Client({ server, tokenEndpoint, clientId, clientSecret }), getNewToken: () => client.clientCredentials() })`, ' +
      'requests through `wrapper.fetch(url)`; cached getter `wrapper.getToken()`. It accepts plain http as is (no option needed).',
    async setup(endpoints) {
      const client = new OAuth2Client({
        server: new URL(endpoints.tokenUrl).origin,
        tokenEndpoint: new URL(endpoints.tokenUrl).pathname,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
      });
      const wrapper = new OAuth2Fetch({ client, getNewToken: () => client.clientCredentials() });
      return {
        get: async (path) => {
          try {
            const res = await wrapper.fetch(`${endpoints.apiOrigin}/${path}`);
            await res.arrayBuffer();
            return res.status;
          } catch {
            return 0;
          }
        },
        getToken: () => wrapper.getToken(),
      };
    },
  },
  {
    id: 'simple-oauth2',
    label: 'simple-oauth2',
    kind: 'peer',
    client: 'fetch',
    usage:
      "`new ClientCredentials({ client: { id, secret }, auth: { tokenHost, tokenPath } })` and its README's check before each use: " +
      '`if (!token || token.expired(EXPIRATION_WINDOW_IN_SECONDS)) token = await client.getToken({})` ' +
      "(window 300 s as in the README; 1 s in the expiry run, scaled to the 5 s token like tokenkit's skew); requests with `fetch`",
    async setup(endpoints, options) {
      const url = new URL(endpoints.tokenUrl);
      const client = new ClientCredentials({
        client: { id: CLIENT_ID, secret: CLIENT_SECRET },
        auth: { tokenHost: url.origin, tokenPath: url.pathname },
      });
      const window = options?.expirationWindowSeconds ?? 300;
      let accessToken: Awaited<ReturnType<typeof client.getToken>> | undefined;
      const getToken = async () => {
        if (accessToken === undefined || accessToken.expired(window)) accessToken = await client.getToken({});
        return accessToken;
      };
      return {
        get: async (path) => {
          let header: string;
          try {
            header = `Bearer ${String((await getToken()).token['access_token'])}`;
          } catch {
            return 0;
          }
          return fetchGet(`${endpoints.apiOrigin}/${path}`, { headers: { authorization: header } });
        },
        getToken,
      };
    },
  },
  {
    id: 'openid-client',
    label: 'openid-client',
    kind: 'peer',
    client: 'fetch',
    usage:
      '`new Configuration({ issuer, token_endpoint }, id, secret)` with `allowInsecureRequests(config)` (its documented switch for ' +
      'non-TLS local testing), `clientCredentialsGrant(config)` then `fetchProtectedResource(config, token, url, "GET")`. ' +
      'It has no token cache of its own, so every request makes a token request.',
    async setup(endpoints) {
      const origin = new URL(endpoints.tokenUrl).origin;
      const config = new oidc.Configuration(
        { issuer: origin, token_endpoint: endpoints.tokenUrl },
        CLIENT_ID,
        CLIENT_SECRET,
      );
      oidc.allowInsecureRequests(config);
      return {
        get: async (path) => {
          try {
            const tokens = await oidc.clientCredentialsGrant(config);
            const res = await oidc.fetchProtectedResource(
              config,
              tokens.access_token,
              new URL(`${endpoints.apiOrigin}/${path}`),
              'GET',
            );
            await res.arrayBuffer();
            return res.status;
          } catch (error) {
            return statusOf(error, 'status');
          }
        },
        getToken: () => oidc.clientCredentialsGrant(config),
      };
    },
  },
];

/** Gets a token the plain way, for the static-header contenders. */
export async function fetchStaticHeader(tokenUrl: string): Promise<string> {
  const res = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  if (!res.ok) throw new Error(`token request for the static header failed with ${res.status}`);
  const body = (await res.json()) as { access_token: string };
  return `Bearer ${body.access_token}`;
}
