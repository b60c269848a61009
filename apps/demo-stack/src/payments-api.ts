import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sendJson } from '@tokenkit/test-utils';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

export interface PaymentsApiOptions {
  /** The issuer whose access tokens are accepted (the token's `iss` must match). */
  issuer: string;
  /** Where the issuer publishes its keys. */
  jwksUri: string;
  /** The audience (resource indicator) tokens must be issued for. */
  audience: string;
  /**
   * The JWT `typ` header required. Default `at+jwt` (RFC 9068); `false` accepts
   * any, for providers whose access tokens say `JWT` (Okta, Entra ID).
   */
  typ?: string | false;
  /** The clock, in epoch milliseconds; for tests. Default `Date.now`. */
  now?: () => number;
  /**
   * Where `GET /payments/{id}/receipt` redirects (302) to: another origin, such as a file host with pre-signed
   * URLs. Without it that endpoint answers 404.
   */
  receiptsOrigin?: string;
}

/** What the API saw, for the demo's cross-check. */
export interface PaymentsApiStats {
  /** Every request to a protected endpoint. */
  requests: number;
  /** Requests whose token and scope were accepted (answered 2xx, or 302 for a receipt). */
  accepted: number;
  /** Requests answered 401 (no token, or an invalid, expired or revoked one). */
  unauthorized: number;
  /** Requests answered 403 (a valid token without the scope). */
  forbidden: number;
  /** Per OAuth client (`client_id` claim): accepted requests and distinct tokens (jti) seen. */
  byClient: Record<string, { accepted: number; tokens: number }>;
}

export interface PaymentsApi {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  stats(): PaymentsApiStats;
  /** Rejects the token with this `jti` from now on (what `POST /admin/revoke` does). */
  revoke(jti: string): void;
  close(): Promise<void>;
}

interface Payment {
  id: string;
  amount: number;
  currency: string;
  status: 'captured' | 'refunded';
  createdBy: string;
}

const REALM = 'payments';
const READ = 'payments:read';
const WRITE = 'payments:write';

/**
 * A small protected "payments" REST API. It accepts a bearer JWT access token
 * (RFC 9068) only when jose verifies its signature against the issuer's JWKS,
 * its issuer, audience and expiry, and that its `jti` was not revoked; then it
 * checks the scope the endpoint needs. Otherwise it answers as RFC 6750 §3 says:
 * 401 with `WWW-Authenticate: Bearer realm="payments"[, error="invalid_token", ...]`,
 * or 403 with `error="insufficient_scope"`.
 *
 * - `GET  /payments`            list (payments:read)
 * - `GET  /payments/{id}`       one payment (payments:read)
 * - `POST /payments`            create `{ amount, currency }` (payments:write)
 * - `POST /payments/{id}/refund` refund (payments:write)
 * - `GET  /payments/{id}/receipt` 302 to `{receiptsOrigin}/receipts/{id}.pdf`, another origin (payments:read)
 * - `GET  /health`              no token needed
 * - `POST /admin/revoke`        `{ "jti": "..." }`: reject that token from now on (demo only: unauthenticated, loopback)
 * - `GET  /admin/stats`         call counts ({@link PaymentsApiStats})
 */
export async function startPaymentsApi(options: PaymentsApiOptions): Promise<PaymentsApi> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri));
  const now = options.now ?? Date.now;
  const typ = options.typ ?? 'at+jwt';
  const revoked = new Set<string>();
  const payments = new Map<string, Payment>();
  const tokensByClient = new Map<string, Set<string>>();
  const stats: PaymentsApiStats = { requests: 0, accepted: 0, unauthorized: 0, forbidden: 0, byClient: {} };
  let nextId = 1;

  const reject = (
    res: ServerResponse,
    status: 401 | 403,
    error: string | undefined,
    description: string,
    scope?: string,
  ) => {
    if (status === 401) stats.unauthorized++;
    else stats.forbidden++;
    let challenge = `Bearer realm="${REALM}"`;
    if (error !== undefined) challenge += `, error="${error}", error_description="${description}"`;
    if (scope !== undefined) challenge += `, scope="${scope}"`;
    sendJson(
      res,
      status,
      { error: error ?? 'unauthorized', error_description: description },
      { 'www-authenticate': challenge },
    );
  };

  /** The verified claims, or undefined after answering 401. */
  const authenticate = async (req: IncomingMessage, res: ServerResponse): Promise<JWTPayload | undefined> => {
    const header = req.headers.authorization;
    // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    if (header === undefined || header === '') return void reject(res, 401, undefined, 'a bearer token is required');
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (match === null)
      return void reject(res, 401, 'invalid_request', 'the Authorization header is not a bearer token');
    try {
      const { payload } = await jwtVerify(match[1]!, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        ...(typ === false ? {} : { typ }),
        requiredClaims: ['exp'],
        currentDate: new Date(now()),
      });
      if (payload.jti !== undefined && revoked.has(payload.jti))
        return void reject(res, 401, 'invalid_token', 'the token was revoked');
      return payload;
    } catch (error) {
      return void reject(res, 401, 'invalid_token', describe(error));
    }
  };

  const server = await listen(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/health') return sendJson(res, 200, { ok: true });
    if (path === '/admin/stats' && method === 'GET') return sendJson(res, 200, snapshot());
    if (path === '/admin/revoke' && method === 'POST') {
      const jti = parseJson(body)?.['jti'];
      if (typeof jti !== 'string' || jti === '') return sendJson(res, 400, { error: 'jti is required' });
      revoked.add(jti);
      res.writeHead(204).end();
      return;
    }

    const route = matchRoute(method, path);
    if (route === undefined) return sendJson(res, 404, { error: 'not_found' });
    stats.requests++;
    const claims = await authenticate(req, res);
    if (claims === undefined) return;
    const granted = scopesOf(claims);
    if (!granted.has(route.scope))
      return reject(res, 403, 'insufficient_scope', `this call needs ${route.scope}`, route.scope);

    const clientId = typeof claims['client_id'] === 'string' ? claims['client_id'] : String(claims.sub);
    stats.accepted++;
    const seen = tokensByClient.get(clientId) ?? new Set<string>();
    seen.add(claims.jti ?? `${String(claims.iat)}:${String(claims.exp)}`); // some providers send no jti
    tokensByClient.set(clientId, seen);
    const client = (stats.byClient[clientId] ??= { accepted: 0, tokens: 0 });
    client.accepted++;
    client.tokens = seen.size;

    switch (route.name) {
      case 'list':
        return sendJson(res, 200, { payments: [...payments.values()].slice(-20) });
      case 'get': {
        const payment = payments.get(route.id!);
        return payment ? sendJson(res, 200, payment) : sendJson(res, 404, { error: 'not_found' });
      }
      case 'create': {
        const input = parseJson(body);
        const amount = input?.['amount'];
        const currency = input?.['currency'] ?? 'EUR';
        if (typeof amount !== 'number' || !(amount > 0) || typeof currency !== 'string') {
          return sendJson(res, 400, {
            error: 'invalid_payment',
            error_description: 'amount must be a positive number',
          });
        }
        const payment: Payment = { id: `pay_${nextId++}`, amount, currency, status: 'captured', createdBy: clientId };
        payments.set(payment.id, payment);
        return sendJson(res, 201, payment, { location: `/payments/${payment.id}` });
      }
      case 'receipt': {
        if (options.receiptsOrigin === undefined || !payments.has(route.id!))
          return sendJson(res, 404, { error: 'not_found' });
        res.writeHead(302, { location: new URL(`/receipts/${route.id!}.pdf`, options.receiptsOrigin).href }).end();
        return;
      }
      case 'refund': {
        const payment = payments.get(route.id!);
        if (payment === undefined) return sendJson(res, 404, { error: 'not_found' });
        payment.status = 'refunded';
        return sendJson(res, 200, payment);
      }
    }
  });

  function snapshot(): PaymentsApiStats {
    return structuredClone(stats);
  }

  return {
    origin: server.origin,
    stats: snapshot,
    revoke: (jti) => void revoked.add(jti),
    close: () => server.close(),
  };
}

type Route = { name: 'list' | 'get' | 'create' | 'refund' | 'receipt'; scope: string; id?: string };

function matchRoute(method: string, path: string): Route | undefined {
  if (path === '/payments') {
    if (method === 'GET') return { name: 'list', scope: READ };
    if (method === 'POST') return { name: 'create', scope: WRITE };
    return undefined;
  }
  const one = /^\/payments\/([\w-]+)$/.exec(path);
  if (one !== null && method === 'GET') return { name: 'get', scope: READ, id: one[1]! };
  const receipt = /^\/payments\/([\w-]+)\/receipt$/.exec(path);
  if (receipt !== null && method === 'GET') return { name: 'receipt', scope: READ, id: receipt[1]! };
  const refund = /^\/payments\/([\w-]+)\/refund$/.exec(path);
  if (refund !== null && method === 'POST') return { name: 'refund', scope: WRITE, id: refund[1]! };
  return undefined;
}

/** `scope` (RFC 9068, space-delimited) or `scp` (Okta, Entra: string or array). */
function scopesOf(claims: JWTPayload): Set<string> {
  const raw = claims['scope'] ?? claims['scp'];
  const list =
    typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw.filter((s) => typeof s === 'string') : [];
  return new Set(list);
}

/** Why a token was refused, in words safe to send back (never the token). */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof errors.JOSEError) return 'the token could not be verified';
  return 'the token is invalid';
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
