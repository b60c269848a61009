import { createHash } from 'node:crypto';
import { createServer, get } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { TestCertificates } from './certificates.ts';
import { sendJson } from './http.ts';
import { peerCertificate } from './oidc-mtls.ts';

export interface MtlsApiOptions {
  certificates: TestCertificates;
  /** The issuer whose JWT access tokens are accepted (its JWKS is read once, at start, trusting `certificates.ca`). */
  issuer: string;
  /** The `aud` the tokens must have. */
  audience: string;
  /**
   * Called when a request is recorded in `requests`, before it is answered: for a process that mirrors `requests`
   * elsewhere (see `startMtlsStack`'s Node child).
   */
  onRequest?: (() => void) | undefined;
}

/** One request the API answered. */
export interface MtlsApiRequest {
  path: string;
  /** 200, or 401 with `reason`. */
  status: number;
  /** Why a request was refused: `no token`, `invalid token`, `no certificate`, `certificate mismatch`, `unbound`. */
  reason: string | undefined;
  /** Thumbprint of the certificate the client presented, if any. */
  presented: string | undefined;
}

export interface MtlsApi {
  /** `https://127.0.0.1:<port>`: trust `certificates.ca`. */
  readonly origin: string;
  readonly requests: readonly MtlsApiRequest[];
  close(): Promise<void>;
}

/**
 * A protected API over HTTPS that asks for client certificates and accepts only certificate-bound JWT access tokens
 * (RFC 8705 §3): signed by the issuer, for `audience`, unexpired, with a `cnf.x5t#S256` equal to the SHA-256
 * thumbprint of the certificate presented on this connection. Anything else is a 401 with
 * `WWW-Authenticate: Bearer error="invalid_token"`. A 200 answers `{ ok: true, path, boundTo }`.
 */
export async function startMtlsApi(options: MtlsApiOptions): Promise<MtlsApi> {
  const { certificates } = options;
  const jwks = createLocalJWKSet(await getJson<JSONWebKeySet>(`${options.issuer}/jwks`, certificates.ca));
  const requests: MtlsApiRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer(
    {
      cert: certificates.server.cert,
      key: certificates.server.key,
      ca: certificates.ca,
      requestCert: true,
      // The binding, not the CA, is what is checked: a self-signed client certificate is fine.
      rejectUnauthorized: false,
    },
    (req, res) => {
      void (async () => {
        const path = req.url ?? '/';
        const presentedCert = peerCertificate(req.socket);
        const presented =
          presentedCert === undefined ? undefined : createHash('sha256').update(presentedCert.raw).digest('base64url');
        const refuse = (reason: string) => {
          requests.push({ path, status: 401, reason, presented });
          options.onRequest?.();
          sendJson(
            res,
            401,
            { error: 'invalid_token', reason },
            { 'www-authenticate': 'Bearer error="invalid_token"' },
          );
        };
        const authorization = req.headers.authorization;
        if (authorization?.startsWith('Bearer ') !== true) return refuse('no token');
        let bound: unknown;
        try {
          const { payload } = await jwtVerify(authorization.slice(7), jwks, {
            issuer: options.issuer,
            audience: options.audience,
          });
          bound = (payload['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'];
        } catch {
          return refuse('invalid token');
        }
        if (typeof bound !== 'string') return refuse('unbound');
        if (presented === undefined) return refuse('no certificate');
        if (presented !== bound) return refuse('certificate mismatch');
        requests.push({ path, status: 200, reason: undefined, presented });
        options.onRequest?.();
        sendJson(res, 200, { ok: true, path, boundTo: bound });
      })();
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function getJson<T>(url: string, ca: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    get(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}
