import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { listen, parseBody, sendJson } from './http.ts';

/** One request the token server received. */
export interface TokenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  contentType: string;
  /** Form or JSON body, decoded. */
  params: Record<string, string | string[]>;
  raw: string;
  /** Client id and secret from HTTP Basic (form-decoded per RFC 6749 §2.3.1) or the body. */
  client: { id: string; secret: string | undefined; via: 'basic' | 'body' } | undefined;
}

/** What the server does instead of its default answer. */
export type Misbehaviour =
  | { status: number; body?: string | object; headers?: Record<string, string> }
  | { hang: true }
  | { reset: true };

export interface TokenServerOptions {
  /** Path of the token endpoint. Default `/token`. */
  path?: string;
  /** `expires_in` of issued tokens; `null` leaves it out. Default 3600. */
  expiresIn?: number | string | null;
  /** Delay before every answer, ms. */
  latencyMs?: number;
  /** Registered clients: id → secret. Default: `{ 'client-id': 'client-secret' }`. */
  clients?: Record<string, string>;
  /** Users for the password grant: username → password. */
  users?: Record<string, string>;
  /** Issue unsigned JWT-shaped access tokens (with `exp`/`iat`) instead of opaque ones. */
  jwt?: boolean;
  /** Issue a refresh token with every client_credentials token too (password always gets one). */
  refreshTokens?: boolean;
  /** Extension grant URIs answered like client_credentials, with a refresh token. */
  extensionGrants?: string[];
}

export interface TokenServer {
  /** The token endpoint URL. */
  readonly url: string;
  readonly origin: string;
  /** Every request received, in order. */
  readonly requests: TokenRequest[];
  /** Number of token requests received. */
  readonly count: number;
  /** Override answers: return a misbehaviour for request `n` (1-based), or undefined for the default answer. */
  misbehave(fn: ((request: TokenRequest, n: number) => Misbehaviour | undefined) | undefined): void;
  /** Changes options of later answers. */
  configure(options: Pick<TokenServerOptions, 'expiresIn' | 'latencyMs' | 'jwt'>): void;
  /** True for a token this server issued and did not revoke or let expire. */
  isValid(accessToken: string): boolean;
  /** Revokes an access token (the API then answers 401 for it). */
  revoke(accessToken: string): void;
  /** Revokes a refresh token. */
  revokeRefreshToken(refreshToken: string): void;
  /** Access tokens issued so far. */
  readonly issued: string[];
  close(): Promise<void>;
}

/**
 * A real token endpoint on 127.0.0.1: client_credentials, password and
 * refresh_token grants, HTTP Basic or body client authentication, form or JSON
 * bodies, and switchable misbehaviour for the odd answers real servers give.
 */
export async function startTokenServer(options: TokenServerOptions = {}): Promise<TokenServer> {
  const path = options.path ?? '/token';
  const clients = options.clients ?? { 'client-id': 'client-secret' };
  const users = options.users ?? {};
  let expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
  let latencyMs = options.latencyMs ?? 0;
  let jwt = options.jwt ?? false;
  const requests: TokenRequest[] = [];
  const issued: string[] = [];
  const valid = new Map<string, number>(); // token → expiry (ms)
  const refreshTokens = new Map<string, string>(); // refresh token → subject
  let override: ((request: TokenRequest, n: number) => Misbehaviour | undefined) | undefined;

  const issue = (subject: string, scope: string | undefined, withRefresh: boolean) => {
    const now = Date.now();
    const lifetime = expiresIn === null ? 300 : Number(expiresIn);
    const accessToken = jwt
      ? [
          Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
          Buffer.from(
            JSON.stringify({
              sub: subject,
              iat: Math.floor(now / 1000),
              exp: Math.floor(now / 1000) + lifetime,
              scope,
            }),
          ).toString('base64url'),
          randomBytes(8).toString('base64url'),
        ].join('.')
      : `at-${randomBytes(16).toString('hex')}`;
    issued.push(accessToken);
    valid.set(accessToken, now + lifetime * 1000);
    const body: Record<string, unknown> = { access_token: accessToken, token_type: 'Bearer' };
    if (expiresIn !== null) body['expires_in'] = expiresIn;
    if (scope !== undefined) body['scope'] = scope;
    if (withRefresh) {
      const refreshToken = `rt-${randomBytes(16).toString('hex')}`;
      refreshTokens.set(refreshToken, subject);
      body['refresh_token'] = refreshToken;
    }
    return body;
  };

  const server = await listen(async (req, res, raw) => {
    const contentType = req.headers['content-type'] ?? '';
    const params = parseBody(contentType, raw);
    const client = readClient(req.headers.authorization, params);
    const request: TokenRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      contentType,
      params,
      raw,
      client,
    };
    requests.push(request);
    if (latencyMs > 0) await sleep(latencyMs);
    const special = override?.(request, requests.length);
    if (special !== undefined) {
      if ('hang' in special) return; // never answers; close() destroys the socket
      if ('reset' in special) return void req.socket.destroy();
      const body = typeof special.body === 'string' ? special.body : JSON.stringify(special.body ?? {});
      res.writeHead(special.status, {
        'content-type': typeof special.body === 'string' ? 'text/html' : 'application/json',
        ...special.headers,
      });
      return void res.end(body);
    }
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://x').pathname !== path) {
      return sendJson(res, 404, { error: 'not_found' });
    }
    if (client === undefined || clients[client.id] === undefined || clients[client.id] !== client.secret) {
      return sendJson(
        res,
        401,
        { error: 'invalid_client', error_description: 'client authentication failed' },
        { 'www-authenticate': 'Basic realm="token"' },
      );
    }
    const scope = typeof params['scope'] === 'string' ? params['scope'] : undefined;
    switch (params['grant_type']) {
      case 'client_credentials':
        return sendJson(res, 200, issue(client.id, scope, options.refreshTokens ?? false));
      case 'password': {
        const username = params['username'];
        if (typeof username !== 'string' || users[username] === undefined || users[username] !== params['password']) {
          return sendJson(res, 400, { error: 'invalid_grant', error_description: 'bad username or password' });
        }
        return sendJson(res, 200, issue(username, scope, true));
      }
      case 'refresh_token': {
        const presented = params['refresh_token'];
        const subject = typeof presented === 'string' ? refreshTokens.get(presented) : undefined;
        if (subject === undefined)
          return sendJson(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid' });
        refreshTokens.delete(presented as string); // rotation
        return sendJson(res, 200, issue(subject, scope, true));
      }
      default:
        if (options.extensionGrants?.includes(String(params['grant_type'])))
          return sendJson(res, 200, issue(client.id, scope, true));
        return sendJson(res, 400, { error: 'unsupported_grant_type' });
    }
  });

  return {
    url: server.origin + path,
    origin: server.origin,
    requests,
    get count() {
      return requests.length;
    },
    issued,
    misbehave(fn) {
      override = fn;
    },
    configure(next) {
      if (next.expiresIn !== undefined) expiresIn = next.expiresIn;
      if (next.latencyMs !== undefined) latencyMs = next.latencyMs;
      if (next.jwt !== undefined) jwt = next.jwt;
    },
    isValid(accessToken) {
      const until = valid.get(accessToken);
      return until !== undefined && until > Date.now();
    },
    revoke(accessToken) {
      valid.delete(accessToken);
    },
    revokeRefreshToken(refreshToken) {
      refreshTokens.delete(refreshToken);
    },
    close: () => server.close(),
  };
}

function readClient(
  authorization: string | undefined,
  params: Record<string, string | string[]>,
): TokenRequest['client'] {
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const formDecode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    try {
      return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)), via: 'basic' };
    } catch {
      return undefined;
    }
  }
  const id = params['client_id'];
  const secret = params['client_secret'];
  if (typeof id !== 'string') return undefined;
  return { id, secret: typeof secret === 'string' ? secret : undefined, via: 'body' };
}
