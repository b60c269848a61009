import { createPrivateKey, KeyObject, randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { ConfigurationError } from './errors.ts';

/**
 * How the client authenticates at the token endpoint.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1 (client_secret_basic, client_secret_post)
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2 (private_key_jwt)
 */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

/** A private key for `private_key_jwt`: a private JWK (its `kid` and `alg` are used), a PKCS#8/PKCS#1/SEC1 PEM string, or a `KeyObject`. */
export type PrivateKeyInput = JWK | string | KeyObject;

/** Token request parameters; an array value is sent as a repeated parameter. */
export type TokenParams = Record<string, string | readonly string[]>;

/** Adds client authentication to a token request. Holds the secret; nothing else does. */
export interface ClientAuth {
  readonly method: ClientAuthMethod;
  apply(params: TokenParams, headers: Record<string, string>, tokenEndpoint: string, nowMs: number): Promise<void> | void;
}

/**
 * `application/x-www-form-urlencoded` encoding of one value, as RFC 6749
 * Appendix B asks for client id and secret before they go into HTTP Basic
 * (a space becomes `+`, `:` becomes `%3A`).
 */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/**
 * The `Authorization` header value of `client_secret_basic`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return 'Basic ' + Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
}

const ASSERTION_LIFETIME_S = 60;

export function createClientAuth(
  method: ClientAuthMethod,
  clientId: string,
  clientSecret: string | undefined,
  privateKey: PrivateKeyInput | undefined,
): ClientAuth {
  switch (method) {
    case 'client_secret_basic': {
      const header = basicAuthorization(clientId, requireSecret(clientSecret, method));
      return {
        method,
        apply(_params, headers) {
          headers['authorization'] = header;
        },
      };
    }
    case 'client_secret_post': {
      const secret = requireSecret(clientSecret, method);
      return {
        method,
        apply(params) {
          params['client_id'] = clientId;
          params['client_secret'] = secret;
        },
      };
    }
    case 'private_key_jwt': {
      if (privateKey === undefined) {
        throw new ConfigurationError('privateKey', 'is required with clientAuthMethod private_key_jwt');
      }
      const { key, alg, kid } = loadPrivateKey(privateKey);
      return {
        method,
        async apply(params, _headers, tokenEndpoint, nowMs) {
          const now = Math.floor(nowMs / 1000);
          const header = kid === undefined ? { alg } : { alg, kid };
          params['client_id'] = clientId;
          params['client_assertion_type'] = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
          params['client_assertion'] = await new SignJWT({})
            .setProtectedHeader(header)
            .setIssuer(clientId)
            .setSubject(clientId)
            .setAudience(tokenEndpoint)
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setExpirationTime(now + ASSERTION_LIFETIME_S)
            .sign(key);
        },
      };
    }
    case 'none':
      return {
        method,
        apply(params) {
          params['client_id'] = clientId;
        },
      };
    default:
      throw new ConfigurationError(
        'clientAuthMethod',
        `must be client_secret_basic, client_secret_post, private_key_jwt or none, got ${JSON.stringify(method)}`,
      );
  }
}

function requireSecret(secret: string | undefined, method: ClientAuthMethod): string {
  if (typeof secret !== 'string' || secret === '') {
    throw new ConfigurationError('clientSecret', `is required with clientAuthMethod ${method}`);
  }
  return secret;
}

const CURVE_ALGS: Record<string, string> = {
  'P-256': 'ES256',
  prime256v1: 'ES256',
  'P-384': 'ES384',
  secp384r1: 'ES384',
  'P-521': 'ES512',
  secp521r1: 'ES512',
};

function loadPrivateKey(input: PrivateKeyInput): { key: KeyObject; alg: string; kid: string | undefined } {
  let key: KeyObject;
  let jwk: JWK | undefined;
  try {
    if (input instanceof KeyObject) key = input;
    else if (typeof input === 'string') key = createPrivateKey(input);
    else {
      jwk = input;
      key = createPrivateKey({ key: input as Parameters<typeof createPrivateKey>[0] & object, format: 'jwk' } as never);
    }
  } catch {
    // The cause would quote key material; say only what is wrong.
    throw new ConfigurationError('privateKey', 'is not a readable private key (expected a private JWK, a PEM string or a KeyObject)');
  }
  if (key.type !== 'private') throw new ConfigurationError('privateKey', `must be a private key, got a ${key.type} key`);
  const alg = jwk?.alg ?? algorithmFor(key);
  return { key, alg, kid: jwk?.kid };
}

function algorithmFor(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec': {
      const alg = CURVE_ALGS[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (alg) return alg;
    }
  }
  throw new ConfigurationError('privateKey', `key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (RSA, RSA-PSS, EC P-256/384/521, Ed25519)`);
}
