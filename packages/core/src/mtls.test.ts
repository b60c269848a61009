import { createPublicKey, createPrivateKey, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import {
  hasOpenssl,
  makeTestCertificates,
  startMtlsStack,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  isOAuthError,
  isTokenEndpointError,
  type TokenEvent,
  type TokenProviderOptions,
} from './index.ts';
import { resolveTls, tokenEndpointFor } from './mtls.ts';

// A real OpenID provider over HTTPS: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const run = hasOpenssl();
let certs: TestCertificates;
let stack: MtlsStack;
let op: OidcServer;

beforeAll(async () => {
  if (!run) return;
  certs = makeTestCertificates();
  // oidc-provider with mutual TLS (in a Node child process when this is Bun, whose node:https server cannot read
  // the client certificate: see startMtlsStack).
  stack = await startMtlsStack(certs, { accessTokenTtl: 120 });
  op = stack.op;
});
afterAll(() => stack?.close());

/** Every form in which key material could appear in a text. */
function keyForms(pem: string): string[] {
  const body = pem.replace(/-----[^-]+-----|\s/g, '');
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return [pem, body, body.slice(10, 60), der.toString('base64').slice(10, 60), der.toString('hex').slice(20, 80)];
}

function expectNoKey(text: string, pem: string): void {
  for (const form of keyForms(pem)) expect(text).not.toContain(form);
}

describe.skipIf(!run)('mutual TLS against oidc-provider (features.mTLS)', () => {
  const bound = (accessToken: string) => (decodeJwt(accessToken)['cnf'] as Record<string, unknown>)['x5t#S256'];

  it('tls_client_auth: discovery, the mtls_endpoint_aliases token endpoint, a certificate-bound token', async () => {
    const before = { plain: op.tokenRequests, alias: op.mtls!.tokenRequests };
    const events: TokenEvent[] = [];
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId: op.mtls!.clients.tlsClientAuth.clientId,
      clientAuthMethod: 'tls_client_auth',
      tls: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca },
      resource: op.resource,
      onEvent: (event) => events.push(event),
    });
    const token = await tokens.getToken();
    const claims = decodeJwt(token.accessToken);
    expect(claims['client_id']).toBe('mtls-client');
    expect(bound(token.accessToken)).toBe(certs.client.thumbprint);
    expect(token.tokenType).toBe('Bearer');
    // The token request went to the alias (the listener that asks for certificates), not to token_endpoint.
    expect(op.mtls!.tokenRequests - before.alias).toBe(1);
    expect(op.tokenRequests - before.plain).toBe(0);
    expect(await tokens.getToken()).toBe(token);
    expect(events.filter((e) => e.type === 'fetch')).toHaveLength(1);
  });

  it('self_signed_tls_client_auth, with the key as a KeyObject and the certificate as an X509Certificate', async () => {
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId: op.mtls!.clients.selfSigned.clientId,
      clientAuthMethod: 'self_signed_tls_client_auth',
      tls: {
        cert: new X509Certificate(certs.selfSigned.cert),
        key: createPrivateKey(certs.selfSigned.key),
        ca: [new X509Certificate(certs.ca)],
      },
      resource: op.resource,
    });
    const token = await tokens.getToken();
    expect(decodeJwt(token.accessToken)['client_id']).toBe('self-signed-client');
    expect(bound(token.accessToken)).toBe(certs.selfSigned.thumbprint);
  });

  it('private_key_jwt over mutual TLS (FAPI 2.0): the assertion authenticates, the certificate binds the token', async () => {
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId: op.mtls!.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: op.clients.privateKeyJwt.privateJwk,
      tls: { cert: certs.selfSigned.cert, key: certs.selfSigned.key, ca: certs.ca },
      resource: op.resource,
    });
    const token = await tokens.getToken();
    expect(decodeJwt(token.accessToken)['client_id']).toBe('jwt-mtls-client');
    expect(bound(token.accessToken)).toBe(certs.selfSigned.thumbprint);
  });

  it('a configured tokenEndpoint (the alias itself) works without discovery', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.mtls!.tokenEndpoint,
      clientId: op.mtls!.clients.tlsClientAuth.clientId,
      clientAuthMethod: 'tls_client_auth',
      tls: { cert: Buffer.from(certs.client.cert), key: Buffer.from(certs.client.key), ca: Buffer.from(certs.ca) },
      resource: op.resource,
    });
    expect(bound((await tokens.getToken()).accessToken)).toBe(certs.client.thumbprint);
  });

  it('the certificate is part of the cache key: tokens bound to different certificates are never shared', () => {
    const base: TokenProviderOptions = {
      issuer: op.issuer,
      clientId: 'c',
      clientAuthMethod: 'self_signed_tls_client_auth',
    };
    const a = createTokenProvider({ ...base, tls: { cert: certs.selfSigned.cert, key: certs.selfSigned.key } });
    const b = createTokenProvider({
      ...base,
      tls: { cert: certs.otherSelfSigned.cert, key: certs.otherSelfSigned.key },
    });
    const same = createTokenProvider({ ...base, tls: { cert: certs.selfSigned.cert, key: certs.selfSigned.key } });
    expect(a.key).not.toBe(b.key);
    expect(a.key).toBe(same.key);
  });

  for (const [method, which] of [
    ['tls_client_auth', 'otherClient'],
    ['self_signed_tls_client_auth', 'otherSelfSigned'],
  ] as const) {
    it(`${method} with a certificate the server does not know: an OAuthError with a hint, no key material`, async () => {
      const events: TokenEvent[] = [];
      const wrong = certs[which];
      const tokens = createTokenProvider({
        issuer: op.issuer,
        clientId:
          method === 'tls_client_auth' ? op.mtls!.clients.tlsClientAuth.clientId : op.mtls!.clients.selfSigned.clientId,
        clientAuthMethod: method,
        tls: { cert: wrong.cert, key: wrong.key, ca: certs.ca },
        resource: op.resource,
        maxRetries: 0,
        onEvent: (event) => events.push(event),
      });
      const error: unknown = await tokens.getToken().catch((e: unknown) => e);
      expect(isOAuthError(error)).toBe(true);
      if (!isOAuthError(error)) return;
      expect(error.error).toBe('invalid_client');
      expect(error.message).toContain(method);
      for (const text of [
        error.message,
        inspect(error, { depth: 10 }),
        JSON.stringify(error),
        inspect(events, { depth: 10 }),
        inspect(tokens, { depth: 10, showHidden: true }),
        String(tokens),
        JSON.stringify(tokens),
      ]) {
        expectNoKey(text, wrong.key);
      }
    });
  }

  it('without trusting the server (no ca): a network error about the certificate, no key material', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.mtls!.tokenEndpoint,
      clientId: op.mtls!.clients.tlsClientAuth.clientId,
      clientAuthMethod: 'tls_client_auth',
      tls: { cert: certs.client.cert, key: certs.client.key },
      maxRetries: 0,
    });
    const error: unknown = await tokens.getToken().catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.code).toBe('network');
    expect(String((error as Error).message)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|CERT/);
    expectNoKey(inspect(error, { depth: 10, showHidden: true }), certs.client.key);
  });

  it('the token endpoint without client certificates (not the alias) refuses tls_client_auth', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: `${op.issuer}/token`,
      clientId: op.mtls!.clients.tlsClientAuth.clientId,
      clientAuthMethod: 'tls_client_auth',
      tls: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca },
      resource: op.resource,
    });
    const error: unknown = await tokens.getToken().catch((e: unknown) => e);
    expect(isOAuthError(error) && error.error).toBe('invalid_client');
  });
});

/** An HTTPS server for the sender's limits; `handler` decides what it answers. */
async function httpsServer(
  certificates: TestCertificates,
  handler: Parameters<typeof createServer>[1],
): Promise<{ origin: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: certificates.server.cert, key: certificates.server.key }, handler);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!run)('the mutual TLS sender honours the transport limits', () => {
  const options = (origin: string): TokenProviderOptions => ({
    tokenEndpoint: `${origin}/token`,
    clientId: 'c',
    clientAuthMethod: 'tls_client_auth',
    tls: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca },
    maxRetries: 0,
  });

  it('maxResponseBytes: a streamed answer larger than the cap is a response_too_large error', async () => {
    const server = await httpsServer(certs, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token":"' + 'a'.repeat(4096));
      res.end('"}');
    });
    try {
      const error: unknown = await createTokenProvider({ ...options(server.origin), maxResponseBytes: 1024 })
        .getToken()
        .catch((e: unknown) => e);
      expect(isTokenEndpointError(error) && error.code).toBe('response_too_large');
    } finally {
      await server.close();
    }
  });

  it('timeoutMs: a server that never answers is a timeout error within the budget', async () => {
    const server = await httpsServer(certs, () => {
      // never answers
    });
    try {
      const started = performance.now();
      const error: unknown = await createTokenProvider({ ...options(server.origin), timeoutMs: 500 })
        .getToken()
        .catch((e: unknown) => e);
      expect(isTokenEndpointError(error) && error.code).toBe('timeout');
      expect(performance.now() - started).toBeLessThan(30_000);
    } finally {
      await server.close();
    }
  });

  it('retries a 503 and reads the answer, status and headers of the next attempt', async () => {
    let n = 0;
    const server = await httpsServer(certs, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (++n === 1) {
          res.writeHead(503, { 'retry-after': '0' });
          return void res.end();
        }
        const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `t-${body.get('client_id')}`, token_type: 'Bearer', expires_in: 60 }));
      });
    });
    try {
      const token = await createTokenProvider({ ...options(server.origin), maxRetries: 1 }).getToken();
      expect(token.accessToken).toBe('t-c');
      expect(n).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('an OAuth error answer is read as one', async () => {
    const server = await httpsServer(certs, (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'no' }));
    });
    try {
      const error: unknown = await createTokenProvider(options(server.origin))
        .getToken()
        .catch((e: unknown) => e);
      expect(isOAuthError(error) && error.error).toBe('invalid_grant');
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(!run)('the tls option is validated at creation', () => {
  const base = (tls: unknown, extra: Partial<TokenProviderOptions> = {}): TokenProviderOptions => ({
    tokenEndpoint: 'https://auth.example.com/token',
    clientId: 'c',
    clientAuthMethod: 'tls_client_auth',
    tls: tls as TokenProviderOptions['tls'],
    ...extra,
  });
  const failure = (options: TokenProviderOptions) => {
    try {
      createTokenProvider(options);
    } catch (error) {
      return error as ConfigurationError;
    }
    throw new Error('no error');
  };

  it.each([
    ['tls', undefined],
    ['tls', 'a string'],
    ['tls.cert', { key: 'k' }],
    ['tls.cert', { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', key: 'k' }],
  ] as [string, unknown][])('%s: %j', (option, tls) => {
    const error = failure(base(tls));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(option);
  });

  it('self_signed_tls_client_auth needs tls too', () => {
    expect(failure({ ...base(undefined), clientAuthMethod: 'self_signed_tls_client_auth' }).message).toMatch(/^tls: /);
  });

  it('a missing, unreadable or public key, or one of another certificate: tls.key, never quoting the key', () => {
    const cert = certs.client.cert;
    const publicPem = createPublicKey(certs.client.key).export({ format: 'pem', type: 'spki' }).toString();
    const truncated = certs.client.key.slice(0, 120) + '\n-----END PRIVATE KEY-----\n';
    for (const key of [undefined, 'not a key', truncated, publicPem, certs.otherClient.key]) {
      const error = failure(base({ cert, key }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toMatch(/^tls\.key: /);
      expectNoKey(inspect(error, { depth: 10, showHidden: true }), certs.otherClient.key);
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(truncated.slice(30, 90));
    }
    expect(failure(base({ cert, key: certs.otherClient.key })).message).toContain('does not belong to tls.cert');
  });

  it('an unreadable ca: tls.ca', () => {
    const { cert, key } = certs.client;
    for (const ca of ['nonsense', [], [certs.ca, 42]]) {
      expect(failure(base({ cert, key, ca })).message).toMatch(/^tls\.ca: /);
    }
  });

  it('a plain-HTTP token endpoint: mutual TLS needs https', () => {
    const { cert, key } = certs.client;
    const error = failure(base({ cert, key }, { tokenEndpoint: 'http://127.0.0.1:9/token' }));
    expect(error.message).toMatch(/^tokenEndpoint: .*https/);
  });

  it('client_secret_basic with tls asks for bound tokens, and still needs its secret', () => {
    const { cert, key } = certs.client;
    expect(failure(base({ cert, key }, { clientAuthMethod: 'client_secret_basic' })).message).toMatch(
      /^clientSecret: /,
    );
    expect(() =>
      createTokenProvider(base({ cert, key }, { clientAuthMethod: 'client_secret_basic', clientSecret: 's' })),
    ).not.toThrow();
  });
});

describe.skipIf(!run)('which token endpoint mutual TLS uses (tokenEndpointFor)', () => {
  const metadata = (tokenEndpoint: string, mtlsTokenEndpoint?: string) => ({
    issuer: 'https://id.example.com',
    tokenEndpoint,
    tokenEndpointAuthMethods: undefined,
    ...(mtlsTokenEndpoint === undefined ? {} : { mtlsTokenEndpoint }),
  });
  const tls = () => resolveTls({ cert: certs.client.cert, key: certs.client.key }, 'tls_client_auth');

  it('the alias with tls, token_endpoint without', () => {
    const m = metadata('https://id.example.com/token', 'https://mtls.id.example.com/token');
    expect(tokenEndpointFor(m, tls())).toBe('https://mtls.id.example.com/token');
    expect(tokenEndpointFor(m, undefined)).toBe('https://id.example.com/token');
    expect(tokenEndpointFor(metadata('https://id.example.com/token'), tls())).toBe('https://id.example.com/token');
  });

  it('an alias or endpoint that is not HTTPS: insecure_endpoint, even on loopback', () => {
    for (const m of [
      metadata('https://id.example.com/token', 'http://127.0.0.1:9/token'),
      metadata('http://127.0.0.1:9/token'),
    ]) {
      const error: unknown = (() => {
        try {
          return tokenEndpointFor(m, tls());
        } catch (e) {
          return e;
        }
      })();
      expect(isTokenEndpointError(error) && error.code).toBe('insecure_endpoint');
    }
  });
});
