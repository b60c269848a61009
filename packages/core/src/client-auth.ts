import { createHash, createPrivateKey, KeyObject, randomUUID, X509Certificate } from 'node:crypto';
import { SignJWT, type JWK, type JWTHeaderParameters } from 'jose';
import { ConfigurationError } from './errors.ts';

/**
 * How the client authenticates at the token endpoint.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1 (client_secret_basic, client_secret_post)
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2 (private_key_jwt)
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2 (tls_client_auth, self_signed_tls_client_auth: the client
 * certificate of the `tls` option authenticates the client)
 */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  | 'none';

/** A private key for `private_key_jwt`: a private JWK (its `kid` and `alg` are used), a PKCS#8/PKCS#1/SEC1 PEM string, or a `KeyObject`. */
export type PrivateKeyInput = JWK | string | KeyObject;

/** The client's X.509 certificate for `private_key_jwt`: a PEM string or an `X509Certificate`. */
export type CertificateInput = string | X509Certificate;

/** Token request parameters; an array value is sent as a repeated parameter. */
export type TokenParams = Record<string, string | readonly string[]>;

/** Adds client authentication to a token request. Holds the secret; nothing else does. */
export interface ClientAuth {
  readonly method: ClientAuthMethod;
  /** What to try when the server answers `invalid_client` to this method, for the error message. */
  readonly hint?: string;
  apply(
    params: TokenParams,
    headers: Record<string, string>,
    tokenEndpoint: string,
    nowMs: number,
  ): Promise<void> | void;
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
 * The `Authorization` header value of `client_secret_basic`. `form` (default) encodes id and secret as RFC 6749
 * Appendix B asks; `plain` sends them as they are, for servers that do not decode them.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @example
 * ```ts
 * basicAuthorization('my client', 'p@ss:w/rd+%'); // 'Basic bXkrY2xpZW50OnAlNDBzcyUzQXclMkZyZCUyQiUyNQ=='
 * ```
 */
export function basicAuthorization(
  clientId: string,
  clientSecret: string,
  encoding: 'form' | 'plain' = 'form',
): string {
  const pair =
    encoding === 'plain' ? `${clientId}:${clientSecret}` : `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return 'Basic ' + Buffer.from(pair).toString('base64');
}

const ASSERTION_LIFETIME_S = 60;

export function createClientAuth(
  method: ClientAuthMethod,
  clientId: string,
  clientSecret: string | undefined,
  privateKey: PrivateKeyInput | undefined,
  certificate?: CertificateInput | undefined,
  basicEncoding: 'form' | 'plain' = 'form',
): ClientAuth {
  if (certificate !== undefined && method !== 'private_key_jwt') {
    throw new ConfigurationError(
      'certificate',
      `is used only with clientAuthMethod private_key_jwt, not ${String(method)}`,
    );
  }
  switch (method) {
    case 'client_secret_basic': {
      const secret = requireSecret(clientSecret, method);
      if (basicEncoding === 'plain' && clientId.includes(':')) {
        throw new ConfigurationError(
          'basicEncoding',
          "'plain' cannot send a client id that contains ':'; use 'form' or client_secret_post",
        );
      }
      const header = basicAuthorization(clientId, secret, basicEncoding);
      // Only worth saying when the encoding changes something: then the other one may be what the server expects.
      const encodingMatters =
        basicAuthorization(clientId, secret, 'form') !== basicAuthorization(clientId, secret, 'plain');
      const hint =
        basicEncoding === 'form'
          ? "HTTP Basic was sent with id and secret form-encoded (RFC 6749 Appendix B); if the server does not decode them, try basicEncoding: 'plain' or clientAuthMethod: 'client_secret_post'"
          : "HTTP Basic was sent with id and secret unencoded (basicEncoding: 'plain'); try basicEncoding: 'form' or clientAuthMethod: 'client_secret_post'";
      return {
        method,
        ...(encodingMatters ? { hint } : {}),
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
      const loaded = loadPrivateKey(privateKey);
      const { key, kid } = loaded;
      const thumbprint = certificate === undefined ? undefined : certificateThumbprint(certificate, key);
      // Entra ID, which identifies the key by its certificate, asks for PS256 from RSA keys (as MSAL sends).
      const alg =
        thumbprint !== undefined && loaded.algFromKey && key.asymmetricKeyType === 'rsa' ? 'PS256' : loaded.alg;
      const header: JWTHeaderParameters = { alg };
      if (kid !== undefined) header.kid = kid;
      if (thumbprint !== undefined) {
        header.typ = 'JWT';
        header['x5t#S256'] = thumbprint;
      }
      return {
        method,
        async apply(params, _headers, tokenEndpoint, nowMs) {
          const now = Math.floor(nowMs / 1000);
          params['client_id'] = clientId;
          params['client_assertion_type'] = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
          params['client_assertion'] = await new SignJWT({})
            .setProtectedHeader(header)
            .setIssuer(clientId)
            .setSubject(clientId)
            .setAudience(tokenEndpoint)
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setNotBefore(now)
            .setExpirationTime(now + ASSERTION_LIFETIME_S)
            .sign(key);
        },
      };
    }
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth': {
      // RFC 8705 §2: the TLS connection (the `tls` option, checked in mtls.ts) authenticates; the body names the client.
      const hint =
        method === 'tls_client_auth'
          ? 'tls_client_auth: the server must trust the CA that issued tls.cert, and its subject must match the one registered for the client (tls_client_auth_subject_dn or a SAN); the request must reach an endpoint that asks for client certificates (mtls_endpoint_aliases)'
          : "self_signed_tls_client_auth: tls.cert must be one registered in the client's jwks (x5c); the request must reach an endpoint that asks for client certificates (mtls_endpoint_aliases)";
      return {
        method,
        hint,
        apply(params) {
          params['client_id'] = clientId;
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
        `must be client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none, got ${JSON.stringify(method)}`,
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

/**
 * The certificate's SHA-256 thumbprint (base64url of the DER), for the `x5t#S256` header
 * (RFC 7515 §4.1.8). The certificate must hold the public half of `key`.
 */
function certificateThumbprint(input: CertificateInput, key: KeyObject): string {
  let certificate: X509Certificate;
  try {
    certificate = input instanceof X509Certificate ? input : new X509Certificate(input);
  } catch {
    throw new ConfigurationError(
      'certificate',
      'is not a readable X.509 certificate (expected a PEM string or an X509Certificate)',
    );
  }
  if (!certificate.checkPrivateKey(key))
    throw new ConfigurationError('certificate', "does not hold privateKey's public key");
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/**
 * Reads a private key for signing JWTs and picks its algorithm: `alg` when given, else the JWK's own `alg`, else the
 * key type's default. `option` names the option in errors, which never quote key material.
 */
export function loadPrivateKey(
  input: PrivateKeyInput,
  option = 'privateKey',
  explicitAlg?: string,
): {
  key: KeyObject;
  alg: string;
  algFromKey: boolean;
  kid: string | undefined;
} {
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
    throw new ConfigurationError(
      option,
      'is not a readable private key (expected a private JWK, a PEM string or a KeyObject)',
    );
  }
  if (key.type !== 'private') throw new ConfigurationError(option, `must be a private key, got a ${key.type} key`);
  const fromKey = algorithmFor(key);
  const alg = explicitAlg ?? jwk?.alg ?? fromKey;
  if (!algorithmsFor(key).includes(alg)) {
    throw new ConfigurationError(
      option,
      `its alg ${JSON.stringify(String(alg).slice(0, 20))} does not fit a ${key.asymmetricKeyType} key (use ${algorithmsFor(key).join(', ')})`,
    );
  }
  return { key, alg, algFromKey: explicitAlg === undefined && jwk?.alg === undefined, kid: jwk?.kid };
}

/** The JWS algorithms a key can sign with: never `none` or an HMAC, never one of another key type or curve. */
function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      return [algorithmFor(key)];
  }
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
  throw new ConfigurationError(
    'privateKey',
    `key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (RSA, RSA-PSS, EC P-256/384/521, Ed25519)`,
  );
}
