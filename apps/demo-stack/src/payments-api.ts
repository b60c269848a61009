import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sendJson } from '@tokenkit/test-utils';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import { checkProof, DPOP_ALGORITHMS } from './dpop-proof.ts';

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

/**
 * A request that used the DPoP scheme, or presented a DPoP-bound token, as the API judged it (`GET /admin/dpop`).
 * Never a token, a proof or a key: only claims and thumbprints.
 */
export interface DPoPRecord {
  method: string;
  path: string;
  /** The `Authorization` scheme the request used. */
  scheme: 'Bearer' | 'DPoP';
  /** The proof, the token, its binding and the scope all passed. */
  accepted: boolean;
  /** Why it was refused (401): the RFC 9449 / RFC 6750 error code and its description. */
  error?: string;
  description?: string;
  /** The proof's claims, when it passed its checks (a new `jti` each time, `htm` and `htu` of this request). */
  proof?: { htm: string; htu: string; jti: string; iat: number };
  /** The token's `cnf.jkt` (the thumbprint of the key it is bound to), once the token verified. */
  jkt?: string;
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
  /** The DPoP requests judged so far (what `GET /admin/dpop` answers). */
  dpop(): DPoPRecord[];
  /** The nonce every DPoP proof must carry now (RFC 9449 §9). */
  readonly dpopNonce: string;
  /** Issues a new DPoP nonce: proofs with the old one are answered `use_dpop_nonce` (what `POST /admin/dpop-nonce` does). */
  rotateDPoPNonce(): void;
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
/** How far a DPoP proof's `iat` may be from the API's clock, in seconds. */
const PROOF_WINDOW_SECONDS = 60;
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
 * DPoP (RFC 9449): `Authorization: DPoP <token>` with a `DPoP` proof is accepted when the proof passes every check of
 * `checkProof` (signature by its own key, `htm`, `htu`, `iat`, unused `jti`, `ath`, and the API's nonce: without it
 * the answer is 401 `use_dpop_nonce` with a `DPoP-Nonce`) and the token's `cnf.jkt` is the proof key's thumbprint.
 * A token bound to a key (`cnf.jkt`) sent as a plain Bearer token is refused: whoever copied it lacks the key.
 * Refusals of DPoP requests carry a `WWW-Authenticate: DPoP ...` challenge.
 *
 * - `GET  /payments`            list (payments:read)
 * - `GET  /payments/{id}`       one payment (payments:read)
 * - `POST /payments`            create `{ amount, currency }` (payments:write)
 * - `POST /payments/{id}/refund` refund (payments:write)
 * - `GET  /payments/{id}/receipt` 302 to `{receiptsOrigin}/receipts/{id}.pdf`, another origin (payments:read)
 * - `GET  /health`              no token needed
 * - `POST /admin/revoke`        `{ "jti": "..." }`: reject that token from now on (demo only: unauthenticated, loopback)
 * - `GET  /admin/stats`         call counts ({@link PaymentsApiStats})
 * - `GET  /admin/dpop`          the DPoP requests judged ({@link DPoPRecord}), `{ "requests": [...] }`
 * - `POST /admin/dpop-nonce`    a new DPoP nonce from now on
 */
export async function startPaymentsApi(options: PaymentsApiOptions): Promise<PaymentsApi> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri));
  const now = options.now ?? Date.now;
  const typ = options.typ ?? 'at+jwt';
  const revoked = new Set<string>();
  const dpopRecords: DPoPRecord[] = [];
  const seenProofs = new Map<string, number>();
  const newNonce = () => randomBytes(16).toString('base64url');
  let dpopNonce = newNonce();
  let origin = '';
  const payments = new Map<string, Payment>();
  const tokensByClient = new Map<string, Set<string>>();
  const stats: PaymentsApiStats = { requests: 0, accepted: 0, unauthorized: 0, forbidden: 0, byClient: {} };
  let nextId = 1;

  /** Answers 401 or 403 with the challenge of the request's scheme; a DPoP refusal is noted in its record. */
  const reject = (
    res: ServerResponse,
    status: 401 | 403,
    error: string | undefined,
    description: string,
    more: { scope?: string; dpop?: DPoPRecord | undefined } = {},
  ) => {
    if (status === 401) stats.unauthorized++;
    else stats.forbidden++;
    const { scope, dpop } = more;
    let challenge =
      dpop === undefined ? `Bearer realm="${REALM}"` : `DPoP realm="${REALM}", algs="${DPOP_ALGORITHMS.join(' ')}"`;
    if (error !== undefined) challenge += `, error="${error}", error_description="${description}"`;
    if (scope !== undefined) challenge += `, scope="${scope}"`;
    const headers: Record<string, string> = { 'www-authenticate': challenge };
    if (error === 'use_dpop_nonce') headers['dpop-nonce'] = dpopNonce;
    if (dpop !== undefined) Object.assign(dpop, { error: error ?? 'unauthorized', description });
    sendJson(res, status, { error: error ?? 'unauthorized', error_description: description }, headers);
  };

  /** The verified claims (and the DPoP record of a DPoP request), or undefined after answering 401. */
  const authenticate = async (
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
  ): Promise<{ claims: JWTPayload; dpop: DPoPRecord | undefined } | undefined> => {
    const header = req.headers.authorization;
    // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    if (header === undefined || header === '') return void reject(res, 401, undefined, 'a bearer token is required');
    const match = /^(Bearer|DPoP) ([\x21-\x7e]+)$/i.exec(header);
    if (match === null)
      return void reject(res, 401, 'invalid_request', 'the Authorization header is not a bearer or DPoP token');
    const token = match[2]!;
    const url = new URL(req.url ?? '/', origin);
    let dpop: DPoPRecord | undefined;
    let thumbprint: string | undefined;
    if (match[1]!.toLowerCase() === 'dpop') {
      dpop = { method, path: url.pathname, scheme: 'DPoP', accepted: false };
      dpopRecords.push(dpop);
      const proof = await checkProof(req.headers['dpop'], {
        method,
        url,
        accessToken: token,
        nonce: dpopNonce,
        now: now(),
        windowSeconds: PROOF_WINDOW_SECONDS,
        seen: seenProofs,
      });
      if ('error' in proof) return void reject(res, 401, proof.error, proof.description, { dpop });
      ({ thumbprint } = proof);
      dpop.proof = { htm: proof.htm, htu: proof.htu, jti: proof.jti, iat: proof.iat };
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: options.audience,
        ...(typ === false ? {} : { typ }),
        requiredClaims: ['exp'],
        currentDate: new Date(now()),
      }));
    } catch (error) {
      return void reject(res, 401, 'invalid_token', describe(error), { dpop });
    }
    const jkt = (claims['cnf'] as { jkt?: unknown } | undefined)?.jkt;
    if (typeof jkt === 'string' && dpop === undefined) {
      // RFC 9449 §7.2: a DPoP-bound token is never accepted as a bearer token, or a copy of it would do.
      dpop = { method, path: url.pathname, scheme: 'Bearer', accepted: false, jkt };
      dpopRecords.push(dpop);
      return void reject(res, 401, 'invalid_token', 'the token is bound to a DPoP key: send it with a DPoP proof', {
        dpop,
      });
    }
    if (dpop !== undefined) {
      if (typeof jkt === 'string') dpop.jkt = jkt;
      if (jkt !== thumbprint)
        return void reject(res, 401, 'invalid_token', "the token is not bound to the proof's key (cnf.jkt)", { dpop });
    }
    if (claims.jti !== undefined && revoked.has(claims.jti))
      return void reject(res, 401, 'invalid_token', 'the token was revoked', { dpop });
    return { claims, dpop };
  };

  const server = await listen(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/health') return sendJson(res, 200, { ok: true });
    if (path === '/admin/stats' && method === 'GET') return sendJson(res, 200, snapshot());
    if (path === '/admin/dpop' && method === 'GET') return sendJson(res, 200, { requests: dpopRecords });
    if (path === '/admin/dpop-nonce' && method === 'POST') {
      dpopNonce = newNonce();
      res.writeHead(204).end();
      return;
    }
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
    const authenticated = await authenticate(req, res, method);
    if (authenticated === undefined) return;
    const { claims, dpop } = authenticated;
    const granted = scopesOf(claims);
    if (!granted.has(route.scope))
      return reject(res, 403, 'insufficient_scope', `this call needs ${route.scope}`, { scope: route.scope, dpop });
    if (dpop !== undefined) dpop.accepted = true;

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

  origin = server.origin;

  function snapshot(): PaymentsApiStats {
    return structuredClone(stats);
  }

  return {
    origin: server.origin,
    stats: snapshot,
    revoke: (jti) => void revoked.add(jti),
    dpop: () => structuredClone(dpopRecords),
    get dpopNonce() {
      return dpopNonce;
    },
    rotateDPoPNonce() {
      dpopNonce = newNonce();
    },
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
