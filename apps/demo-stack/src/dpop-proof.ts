import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';

/** The JWS algorithms the payments API accepts for DPoP proofs (asymmetric only, RFC 9449 §4.2). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'PS256', 'RS256'];

/** What a proof that passed every check said: no signature, no key, only claims a log may show. */
export interface VerifiedProof {
  htm: string;
  htu: string;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  /** The RFC 7638 thumbprint of the proof's public key: the token's `cnf.jkt` must equal it. */
  thumbprint: string;
}

/** Why a proof was refused: an RFC 9449 error code and words safe to send back (never the proof or token). */
export interface RefusedProof {
  error: 'invalid_dpop_proof' | 'use_dpop_nonce';
  description: string;
}

export interface ProofCheck {
  /** The request's method and its URL as the API sees it (origin and path; query and fragment are ignored). */
  method: string;
  url: URL;
  /** The access token the request carried (the proof's `ath` must be its SHA-256). */
  accessToken: string;
  /** The nonce the API wants in every proof now. */
  nonce: string;
  /** The API's clock, epoch ms. */
  now: number;
  /** How far `iat` may be from now, in seconds. */
  windowSeconds: number;
  /** Proof `jti`s already used, with when they may be forgotten (epoch ms); a match is a replay. */
  seen: Map<string, number>;
}

/**
 * Checks a request's `DPoP` header as RFC 9449 §4.3 and §7.1 ask of a resource server: exactly one proof, a JWS of
 * `typ` `dpop+jwt` that verifies with its own embedded public `jwk`, `htm` and `htu` of this request, `iat` within
 * the window, a `jti` never used before (then remembered), `ath` the token's hash, and the API's nonce (§9). The
 * token's `cnf.jkt` is checked against {@link VerifiedProof.thumbprint} by the caller, once the token is verified.
 */
export async function checkProof(
  header: string | string[] | undefined,
  c: ProofCheck,
): Promise<VerifiedProof | RefusedProof> {
  const refuse = (description: string): RefusedProof => ({ error: 'invalid_dpop_proof', description });
  if (header === undefined || header === '') return refuse('a DPoP proof is required with the DPoP scheme');
  if (typeof header !== 'string' || header.includes(',')) return refuse('exactly one DPoP header is allowed');
  let claims: Record<string, unknown>;
  let thumbprint: string;
  try {
    const { payload, protectedHeader } = await jwtVerify(header, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: DPOP_ALGORITHMS,
    });
    if (protectedHeader.jwk === undefined || 'd' in protectedHeader.jwk)
      return refuse('the proof must carry a public key');
    claims = payload;
    thumbprint = await calculateJwkThumbprint(protectedHeader.jwk);
  } catch {
    return refuse('the proof signature or header is invalid');
  }
  const htu = c.url.origin + c.url.pathname;
  if (claims['htm'] !== c.method) return refuse(`the proof's htm is not ${c.method}`);
  if (claims['htu'] !== htu) return refuse(`the proof's htu is not ${htu}`);
  const { iat, jti } = claims;
  if (typeof iat !== 'number' || Math.abs(c.now / 1000 - iat) > c.windowSeconds)
    return refuse('the proof is not recent (iat)');
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) return refuse('the proof has no jti');
  if (claims['ath'] !== createHash('sha256').update(c.accessToken).digest('base64url'))
    return refuse("the proof's ath is not the hash of this token");
  // Before the replay check: a proof without the nonce is not used up, it is answered with the nonce to send.
  if (claims['nonce'] !== c.nonce)
    return { error: 'use_dpop_nonce', description: 'the proof must carry the nonce in DPoP-Nonce' };
  forgetOld(c.seen, c.now);
  if (c.seen.has(jti)) return refuse('the proof was used before (jti)');
  c.seen.set(jti, c.now + 2 * c.windowSeconds * 1000);
  return { htm: c.method, htu, jti, iat, thumbprint };
}

/** Drops the `jti`s whose proofs are too old to be accepted anyway; the map stays as small as the window's traffic. */
function forgetOld(seen: Map<string, number>, now: number): void {
  for (const [jti, until] of seen) {
    if (until > now) break; // insertion order is time order
    seen.delete(jti);
  }
}
