import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { listen, sendJson } from './http.ts';

/** One request the DPoP API received, and what it made of it. */
export interface DPoPApiRequest {
  method: string;
  /** Path and query as received. */
  path: string;
  authorization: string | undefined;
  /** The `DPoP` header, when one came. */
  dpop: string | undefined;
  /** The verified proof's claims, when the request carried a token and its proof passed every check. */
  proof: { htm: string; htu: string; jti: string; ath: string; nonce?: string } | undefined;
  /** Why the request was refused (a 401), when it was. */
  refused: string | undefined;
  body: string;
}

export interface DPoPApi {
  readonly origin: string;
  readonly requests: DPoPApiRequest[];
  /** The nonce the API expects now (with `requireNonce`). */
  readonly nonce: string;
  /** Issues a new nonce: proofs with the old one are answered `use_dpop_nonce`. */
  rotateNonce(): void;
  close(): Promise<void>;
}

export interface DPoPApiOptions {
  /** The issuer whose JWT access tokens are accepted (oidc-provider's), and its JWKS. */
  issuer: string;
  jwksUri: string;
  /** Every proof must carry the API's current nonce. Default false. */
  requireNonce?: boolean | undefined;
  /** How far a proof's `iat` may be from now, in seconds. Default 60. */
  iatWindowSeconds?: number | undefined;
}

const ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/**
 * A protected API on 127.0.0.1 that accepts only DPoP-bound tokens (RFC 9449 §7): `Authorization: DPoP <token>`
 * with a proof whose signature verifies with its own `jwk`, `typ` `dpop+jwt`, `htm` the request's method, `htu`
 * this origin and path (no query), `iat` within the window, a `jti` never seen before, `ath` the token's hash, the
 * current nonce when nonces are required; and an access token that is a JWT of `issuer` whose `cnf.jkt` is the
 * proof key's thumbprint. Paths as in `startApi`: `/redirect?to=&status=` (checked like any other when it carries a
 * token), `/public`, `/status/<code>`, anything else `{ ok, path, method }`. Refusals are 401 with
 * `WWW-Authenticate: DPoP error="..."`; a missing or stale nonce is `use_dpop_nonce` with a `DPoP-Nonce`.
 */
export async function startDPoPApi(options: DPoPApiOptions): Promise<DPoPApi> {
  const keys = createRemoteJWKSet(new URL(options.jwksUri));
  const window = options.iatWindowSeconds ?? 60;
  const requests: DPoPApiRequest[] = [];
  const seen = new Set<string>();
  let nonce = randomBytes(16).toString('base64url');
  let origin = '';

  const check = async (
    method: string,
    path: string,
    authorization: string | undefined,
    proofs: string | string[] | undefined,
  ): Promise<DPoPApiRequest['proof'] | { refused: string; nonce?: true }> => {
    if (authorization === undefined || !/^DPoP /i.test(authorization))
      return { refused: 'invalid_token: no DPoP token' };
    const token = authorization.slice(5);
    if (typeof proofs !== 'string' || proofs.includes(','))
      return { refused: 'invalid_dpop_proof: not one DPoP header' };
    let claims: Record<string, unknown>;
    let jwk: JWK;
    try {
      const verified = await jwtVerify(proofs, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ALGORITHMS });
      claims = verified.payload;
      jwk = verified.protectedHeader.jwk!;
    } catch (error) {
      return { refused: `invalid_dpop_proof: ${(error as Error).message}` };
    }
    if ('d' in jwk) return { refused: 'invalid_dpop_proof: private key in the jwk header' };
    if (claims['htm'] !== method) return { refused: `invalid_dpop_proof: htm ${String(claims['htm'])} for ${method}` };
    const htu = new URL(path, origin);
    if (claims['htu'] !== htu.origin + htu.pathname)
      return { refused: `invalid_dpop_proof: htu ${String(claims['htu'])} for ${htu.origin + htu.pathname}` };
    const iat = claims['iat'];
    if (typeof iat !== 'number' || Math.abs(Date.now() / 1000 - iat) > window)
      return { refused: 'invalid_dpop_proof: iat out of the window' };
    const jti = claims['jti'];
    if (typeof jti !== 'string' || jti === '') return { refused: 'invalid_dpop_proof: no jti' };
    if (seen.has(jti)) return { refused: 'invalid_dpop_proof: jti replayed' };
    seen.add(jti);
    if (claims['ath'] !== createHash('sha256').update(token).digest('base64url'))
      return { refused: 'invalid_dpop_proof: ath does not match the token' };
    if (options.requireNonce === true && claims['nonce'] !== nonce)
      return { refused: 'use_dpop_nonce: nonce missing or stale', nonce: true };
    try {
      const { payload } = await jwtVerify(token, keys, { issuer: options.issuer });
      const jkt = (payload['cnf'] as { jkt?: unknown } | undefined)?.jkt;
      if (jkt !== (await calculateJwkThumbprint(jwk)))
        return { refused: 'invalid_token: cnf.jkt is not the proof key' };
    } catch (error) {
      return { refused: `invalid_token: ${(error as Error).message}` };
    }
    const proof = { htm: method, htu: String(claims['htu']), jti, ath: String(claims['ath']) };
    return typeof claims['nonce'] === 'string' ? { ...proof, nonce: claims['nonce'] } : proof;
  };

  const server = await listen(async (req, res, body) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const url = new URL(path, origin);
    const authorization = req.headers.authorization;
    const dpop = req.headers['dpop'];
    const record: DPoPApiRequest = {
      method,
      path,
      authorization,
      dpop: Array.isArray(dpop) ? dpop.join(', ') : dpop,
      proof: undefined,
      refused: undefined,
      body,
    };
    requests.push(record);
    const nonceHeader: Record<string, string> = options.requireNonce === true ? { 'dpop-nonce': nonce } : {};
    const open = url.pathname === '/public' || (url.pathname === '/redirect' && authorization === undefined);
    if (!open) {
      const result = await check(method, path, authorization, dpop);
      if (result === undefined || 'refused' in result) {
        const refused = result?.refused ?? 'invalid_token';
        record.refused = refused;
        const error = refused.slice(0, refused.indexOf(':'));
        return sendJson(
          res,
          401,
          { error },
          { 'www-authenticate': `DPoP error="${error}", algs="ES256 EdDSA PS256"`, ...nonceHeader },
        );
      }
      record.proof = result;
    }
    if (url.pathname === '/redirect') {
      res.writeHead(Number(url.searchParams.get('status') ?? 302), {
        location: url.searchParams.get('to') ?? '/',
        ...nonceHeader,
      });
      return void res.end();
    }
    const status = url.pathname.startsWith('/status/') ? Number(url.pathname.slice(8)) : 200;
    sendJson(res, status, { ok: status < 400, path: url.pathname, method, n: requests.length }, nonceHeader);
  });
  origin = server.origin;
  return {
    origin,
    requests,
    get nonce() {
      return nonce;
    },
    rotateNonce() {
      nonce = randomBytes(16).toString('base64url');
    },
    close: () => server.close(),
  };
}
