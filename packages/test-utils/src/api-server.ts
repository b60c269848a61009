import { listen, sendJson } from './http.ts';

export interface ApiRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

export interface ApiServer {
  readonly origin: string;
  readonly port: number;
  /** Every request received. */
  readonly requests: ApiRequest[];
  /** Requests answered 2xx. */
  readonly okCount: number;
  /** Requests answered 401. */
  readonly unauthorizedCount: number;
  /** TCP connections accepted so far (how many the clients opened). */
  readonly connections: number;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  /** Decides whether a bearer token is accepted. Default: any non-empty token. */
  isValid?: (accessToken: string) => boolean | Promise<boolean>;
  /** Extra response headers on every 2xx answer, e.g. `cache-control`. */
  headers?: Record<string, string>;
}

/**
 * A protected API on 127.0.0.1. Every path needs a valid bearer token and
 * answers `{ ok, path, method, body, n }` as JSON, except:
 * - `/redirect?to=<url>&status=302` answers a redirect, without checking the token;
 * - `/public` answers without checking the token;
 * - `/status/<code>` answers that status after the token check.
 * Without a valid token: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
 */
export async function startApi(options: ApiServerOptions = {}): Promise<ApiServer> {
  const isValid = options.isValid ?? ((token: string) => token.length > 0);
  const requests: ApiRequest[] = [];
  let okCount = 0;
  let unauthorizedCount = 0;
  const server = await listen(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, authorization, body });
    if (url.pathname === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' });
      return void res.end();
    }
    if (url.pathname !== '/public') {
      const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      if (token === undefined || !(await isValid(token))) {
        unauthorizedCount++;
        const error = token === undefined ? 'Bearer realm="api"' : 'Bearer realm="api", error="invalid_token"';
        return sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': error });
      }
    }
    const status = url.pathname.startsWith('/status/') ? Number(url.pathname.slice(8)) : 200;
    if (status >= 200 && status < 300) okCount++;
    sendJson(
      res,
      status,
      { ok: status < 400, path: url.pathname, method: req.method, body, n: requests.length },
      options.headers,
    );
  });
  return {
    origin: server.origin,
    port: server.port,
    requests,
    get okCount() {
      return okCount;
    },
    get unauthorizedCount() {
      return unauthorizedCount;
    },
    get connections() {
      return server.connections;
    },
    close: () => server.close(),
  };
}

export interface Recorder {
  readonly origin: string;
  /** The Authorization header of every request received (undefined when none). */
  readonly authorizations: (string | undefined)[];
  /** The DPoP header of every request received (undefined when none). */
  readonly dpops: (string | undefined)[];
  /** Number of requests received. */
  readonly count: number;
  close(): Promise<void>;
}

/**
 * A second origin that records any Authorization header it receives and answers 200 to everything, except
 * `/redirect?to=<url>&status=302` (a redirect) and `/status/<code>` (that status).
 */
export async function startRecorder(): Promise<Recorder> {
  const authorizations: (string | undefined)[] = [];
  const dpops: (string | undefined)[] = [];
  const server = await listen((req, res) => {
    authorizations.push(req.headers.authorization);
    const dpop = req.headers['dpop'];
    dpops.push(Array.isArray(dpop) ? dpop.join(', ') : dpop);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/' });
      return void res.end();
    }
    const status = url.pathname.startsWith('/status/') ? Number(url.pathname.slice(8)) : 200;
    sendJson(res, status, { recorded: true });
  });
  return {
    origin: server.origin,
    authorizations,
    dpops,
    get count() {
      return authorizations.length;
    },
    close: () => server.close(),
  };
}
