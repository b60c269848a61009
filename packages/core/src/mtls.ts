import { createHash, createPrivateKey, KeyObject, X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { ServerMetadata } from './discovery.ts';
import { ConfigurationError, TokenEndpointError } from './errors.ts';
import type { FetchLike } from './transport.ts';
import { describeUrl } from './transport.ts';

/**
 * The client certificate tokenkit presents in mutual TLS (RFC 8705), with its private key, given once. The names are
 * Node's own TLS option names, so the same object can configure the HTTP client that calls the API with the same
 * certificate (an `https.Agent`, an undici `Agent`'s `connect`), which a certificate-bound access token needs.
 * @see https://www.rfc-editor.org/rfc/rfc8705
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { createTokenProvider, type MutualTlsOptions } from '@tokenkit/core';
 *
 * const tls: MutualTlsOptions = {
 *   cert: readFileSync('client.crt', 'utf8'),
 *   key: readFileSync('client.key', 'utf8'),
 * };
 * const tokens = createTokenProvider({
 *   issuer: 'https://bank.example.com',
 *   clientId: 'my-client',
 *   clientAuthMethod: 'tls_client_auth',
 *   tls,
 * });
 * ```
 */
export interface MutualTlsOptions {
  /**
   * The client certificate: PEM (a string or a `Buffer`; intermediate certificates may follow the client's own, and
   * are sent along) or an `X509Certificate`.
   */
  cert: string | Buffer | X509Certificate;
  /** Its private key: an unencrypted PEM (string or `Buffer`) or a `KeyObject` (decrypt an encrypted key into one). */
  key: string | Buffer | KeyObject;
  /**
   * Certificate authorities trusted for the server's certificate, instead of Node's default ones (a private CA): PEM
   * (one or several certificates), an `X509Certificate`, or a list of them.
   */
  ca?: string | Buffer | X509Certificate | readonly (string | Buffer | X509Certificate)[] | undefined;
}

/** Mutual TLS as the provider uses it. Key material lives only in the sender's closure. */
export interface ResolvedTls {
  /** SHA-256 thumbprint of the client certificate (base64url of its DER): what a bound token's `cnf.x5t#S256` holds. */
  readonly thumbprint: string;
  /** Sends token and discovery requests over TLS connections that present the certificate. */
  readonly fetch: FetchLike;
}

/** The client authentication methods that are mutual TLS. */
export const TLS_AUTH_METHODS: ReadonlySet<string> = new Set(['tls_client_auth', 'self_signed_tls_client_auth']);

/**
 * Validates the `tls` option: a readable certificate, a readable private key that belongs to it, readable CAs. Every
 * message names the option and never quotes key material. `method` is the configured client authentication.
 */
export function resolveTls(input: unknown, method: string): ResolvedTls | undefined {
  if (input === undefined) {
    if (TLS_AUTH_METHODS.has(method)) {
      throw new ConfigurationError(
        'tls',
        `is required with clientAuthMethod ${method}: the client certificate and its key ({ cert, key })`,
      );
    }
    return undefined;
  }
  if (typeof input !== 'object' || input === null)
    throw new ConfigurationError('tls', 'must be an object { cert, key, ca? }');
  const { cert, key, ca } = input as Partial<MutualTlsOptions>;
  const certificate = readCertificate(cert, 'tls.cert');
  const privateKey = readPrivateKey(key);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigurationError('tls.key', 'does not belong to tls.cert (the certificate holds another public key)');
  }
  const authorities = ca === undefined ? undefined : readAuthorities(ca);
  const certPem = typeof cert === 'string' ? cert : Buffer.isBuffer(cert) ? cert.toString('utf8') : String(cert);
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    thumbprint: createHash('sha256').update(certificate.raw).digest('base64url'),
    fetch: httpsFetch({ cert: certPem, key: keyPem, ca: authorities }),
  };
}

function readCertificate(input: unknown, name: string): X509Certificate {
  if (input instanceof X509Certificate) return input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      return new X509Certificate(input);
    } catch {
      // falls through to the message below
    }
  }
  throw new ConfigurationError(
    name,
    'is not a readable X.509 certificate (expected PEM, a Buffer of PEM or an X509Certificate)',
  );
}

function readPrivateKey(input: unknown): KeyObject {
  let key: KeyObject | undefined;
  if (input instanceof KeyObject) key = input;
  else if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      key = createPrivateKey(input);
    } catch {
      // The cause would quote key material; say only what is wrong.
    }
  }
  if (key === undefined) {
    throw new ConfigurationError(
      'tls.key',
      'is not a readable private key (expected an unencrypted PEM, a Buffer of PEM or a KeyObject)',
    );
  }
  if (key.type !== 'private') throw new ConfigurationError('tls.key', `must be a private key, got a ${key.type} key`);
  return key;
}

function readAuthorities(input: unknown): string[] {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new ConfigurationError('tls.ca', 'must not be an empty list');
  return list.flatMap((item) => {
    if (item instanceof X509Certificate) return [item.toString()];
    const text = typeof item === 'string' ? item : Buffer.isBuffer(item) ? item.toString('utf8') : undefined;
    // A PEM bundle holds several certificates; X509Certificate reads only the first, so each is read on its own.
    const blocks = text?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    for (const block of blocks) readCertificate(block, 'tls.ca');
    if (blocks.length === 0) {
      throw new ConfigurationError('tls.ca', 'is not PEM certificates or X509Certificates');
    }
    return blocks;
  });
}

/**
 * The token endpoint to use: with mutual TLS, the server's `mtls_endpoint_aliases.token_endpoint` when it has one
 * (RFC 8705 §5: a server may ask for client certificates only there), which, like any endpoint mutual TLS is
 * spoken to, must be HTTPS.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-5
 */
export function tokenEndpointFor(metadata: ServerMetadata, tls: ResolvedTls | undefined): string {
  if (tls === undefined) return metadata.tokenEndpoint;
  const endpoint = metadata.mtlsTokenEndpoint ?? metadata.tokenEndpoint;
  if (!endpoint.startsWith('https:')) {
    const which = metadata.mtlsTokenEndpoint === undefined ? 'token endpoint' : 'mtls_endpoint_aliases.token_endpoint';
    throw new TokenEndpointError(
      'insecure_endpoint',
      `mutual TLS needs an HTTPS token endpoint; the discovered ${which} is ${describeUrl(endpoint)}`,
    );
  }
  return endpoint;
}

interface TlsMaterial {
  cert: string;
  key: string;
  ca: string[] | undefined;
}

/** HTTP statuses whose answers have no body (a `Response` refuses one). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * A `fetch` for token and discovery requests over `node:https`, presenting the client certificate when a server
 * asks for one. The global `fetch` cannot: Node's needs an undici dispatcher, which core does not depend on.
 * `node:https` and `node:http` are loaded on the first request, so a provider without mutual TLS never loads them.
 * It answers with a WHATWG `Response` whose body streams, so the transport applies its size cap, deadline and error
 * handling exactly as to the global `fetch`. Redirects are never followed (the transport asks for `manual`).
 */
function httpsFetch(material: TlsMaterial): FetchLike {
  let loaded: Promise<Sender> | undefined;
  return async (url, init) => {
    const sender = await (loaded ??= loadSender(material));
    return sender(url, init);
  };
}

type Sender = (url: string, init: RequestInit) => Promise<Response>;

async function loadSender(material: TlsMaterial): Promise<Sender> {
  const [https, http, { Readable }] = await Promise.all([
    import('node:https'),
    import('node:http'),
    import('node:stream'),
  ]);
  // One agent per provider: its connections present this certificate and no other (keep-alive sockets are
  // unreferenced while idle, so they never keep a process alive).
  const agent: HttpsAgent = new https.Agent({
    keepAlive: true,
    cert: material.cert,
    key: material.key,
    ...(material.ca === undefined ? {} : { ca: material.ca }),
  });
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const headers = { ...(init.headers as Record<string, string> | undefined) };
      const body = typeof init.body === 'string' ? init.body : undefined;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const options = {
        method: init.method ?? 'GET',
        headers,
        ...(init.signal ? { signal: init.signal } : {}),
      };
      const onResponse = (res: IncomingMessage) => {
        const answer = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          try {
            answer.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          } catch {
            // A header Headers refuses (not Latin-1) is one tokenkit never reads.
          }
        }
        const status = res.statusCode ?? 0;
        const nullBody = NULL_BODY_STATUSES.has(status) || init.method === 'HEAD';
        if (nullBody) res.resume();
        try {
          resolve(
            new Response(nullBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage ?? '',
              headers: answer,
            }),
          );
        } catch (error) {
          // A status a Response cannot carry (below 200 or above 599): a broken server, like a reset connection.
          res.destroy();
          reject(error);
        }
      };
      const request =
        target.protocol === 'https:'
          ? https.request(target, { ...options, agent }, onResponse)
          : // Discovery of a loopback issuer over plain HTTP: there is no TLS to present a certificate in.
            http.request(target, options, onResponse);
      request.on('error', reject);
      request.end(body);
    });
}
