import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLIENT_CERTIFICATE_PEM, CLIENT_KEY_PEM } from './fixtures/client-certificate.ts';
import { basicAuthorization } from './client-auth.ts';
import { ConfigurationError, createTokenProvider } from './index.ts';

// A real server and RSA key generation: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer({ clients: { 'my client': 'p@ss:w/rd+%', 'jwt-client': 'unused' } });
});
afterAll(() => server.close());

describe('client_secret_basic (RFC 6749 §2.3.1, Appendix B)', () => {
  it('form-encodes id and secret before base64: a space becomes +, reserved characters are escaped', () => {
    const header = basicAuthorization('my client', 'p@ss:w/rd+%');
    expect(header).toBe('Basic ' + Buffer.from('my+client:p%40ss%3Aw%2Frd%2B%25').toString('base64'));
  });

  it('a server that decodes per the RFC recovers the exact credentials', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'my client',
      clientSecret: 'p@ss:w/rd+%',
    });
    await tokens.getToken();
    expect(server.requests.at(-1)!.client).toEqual({ id: 'my client', secret: 'p@ss:w/rd+%', via: 'basic' });
  });
});

describe('private_key_jwt (RFC 7523)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it('signs a fresh assertion per request: iss = sub = client id, aud = token endpoint, unique jti, short exp', async () => {
    const before = server.requests.length;
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'jwt-client',
      clientAuthMethod: 'private_key_jwt',
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      grant: { type: 'client_credentials' },
      maxRetries: 1,
    });
    server.misbehave((_, n) => (n === before + 1 ? { status: 503, body: 'retry me' } : undefined));
    // The server does not know private_key_jwt, so it answers 401 after the retry: we only inspect the assertions.
    await tokens.getToken().catch(() => {});
    server.misbehave(undefined);
    const sent = server.requests.slice(before).map((r) => r.params);
    expect(sent).toHaveLength(2);
    const jtis = new Set<unknown>();
    for (const params of sent) {
      expect(params['client_assertion_type']).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const assertion = params['client_assertion'] as string;
      expect(decodeProtectedHeader(assertion).alg).toBe('RS256');
      const { payload } = await jwtVerify(assertion, publicKey, {
        issuer: 'jwt-client',
        subject: 'jwt-client',
        audience: server.url,
      });
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(60);
      jtis.add(payload.jti);
    }
    expect(jtis.size).toBe(2);
  });

  it('derives ES256 and EdDSA from the key type; uses a JWK kid and alg', async () => {
    for (const [type, alg] of [
      ['ec', 'ES256'],
      ['ed25519', 'EdDSA'],
    ] as const) {
      const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const before = server.requests.length;
      const tokens = createTokenProvider({
        tokenEndpoint: server.url,
        clientId: 'jwt-client',
        clientAuthMethod: 'private_key_jwt',
        privateKey: pair.privateKey,
        maxRetries: 0,
      });
      await tokens.getToken().catch(() => {});
      const assertion = server.requests[before]!.params['client_assertion'] as string;
      expect(decodeProtectedHeader(assertion).alg).toBe(alg);
      await jwtVerify(assertion, pair.publicKey);
    }
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k-7', alg: 'PS256' };
    const before = server.requests.length;
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'jwt-client',
      clientAuthMethod: 'private_key_jwt',
      privateKey: jwk,
      maxRetries: 0,
    });
    await tokens.getToken().catch(() => {});
    expect(decodeProtectedHeader(server.requests[before]!.params['client_assertion'] as string)).toEqual({
      alg: 'PS256',
      kid: 'k-7',
    });
  });

  it('rejects a public key or garbage with a ConfigurationError that quotes no key material', () => {
    expect(() =>
      createTokenProvider({
        tokenEndpoint: server.url,
        clientId: 'c',
        clientAuthMethod: 'private_key_jwt',
        privateKey: publicKey,
      }),
    ).toThrow(/privateKey: must be a private key, got a public key/);
    const garbage = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----';
    let error: unknown;
    try {
      createTokenProvider({
        tokenEndpoint: server.url,
        clientId: 'c',
        clientAuthMethod: 'private_key_jwt',
        privateKey: garbage,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).not.toContain('c2VjcmV0');
    expect((error as ConfigurationError).cause).toBeUndefined();
  });
});

describe('private_key_jwt with a certificate (x5t#S256, as Microsoft Entra ID asks)', () => {
  // `openssl x509 -noout -fingerprint -sha256` of the fixture certificate, worked out independently of our code.
  const FINGERPRINT = '0F:60:B5:FD:01:58:D1:94:AF:62:34:8C:C8:60:1A:8B:04:55:3F:AA:B7:C9:3D:55:CD:30:71:22:B4:C2:D3:B8';
  const x5t = Buffer.from(FINGERPRINT.replaceAll(':', ''), 'hex').toString('base64url');
  const certificateOptions = {
    tokenEndpoint: '',
    clientId: 'jwt-client',
    clientAuthMethod: 'private_key_jwt' as const,
    maxRetries: 0,
  };

  /** Lets the server answer every request from now on with a token, and returns the next assertion it receives. */
  async function assertionFrom(options: Parameters<typeof createTokenProvider>[0]): Promise<string> {
    const before = server.requests.length;
    server.misbehave((_, n) =>
      n > before
        ? { status: 200, body: { access_token: 'at-certificate', token_type: 'Bearer', expires_in: 3600 } }
        : undefined,
    );
    try {
      expect((await createTokenProvider(options).getToken()).accessToken).toBe('at-certificate');
    } finally {
      server.misbehave(undefined);
    }
    return server.requests[before]!.params['client_assertion'] as string;
  }

  it("sends the certificate's SHA-256 thumbprint, typ JWT and PS256, with nbf, signed so the certificate verifies it", async () => {
    const assertion = await assertionFrom({
      ...certificateOptions,
      tokenEndpoint: server.url,
      privateKey: CLIENT_KEY_PEM,
      certificate: CLIENT_CERTIFICATE_PEM,
    });
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'PS256', typ: 'JWT', 'x5t#S256': x5t });
    const certificate = new X509Certificate(CLIENT_CERTIFICATE_PEM);
    const { payload } = await jwtVerify(assertion, certificate.publicKey, {
      algorithms: ['PS256'],
      issuer: 'jwt-client',
      subject: 'jwt-client',
      audience: server.url,
    });
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(60);
  });

  it("takes an X509Certificate too, and a JWK's own alg and kid win", async () => {
    const jwk = { ...createPrivateKey(CLIENT_KEY_PEM).export({ format: 'jwk' }), alg: 'RS256', kid: 'entra-1' };
    const certificate = new X509Certificate(CLIENT_CERTIFICATE_PEM);
    const assertion = await assertionFrom({
      ...certificateOptions,
      tokenEndpoint: server.url,
      privateKey: jwk,
      certificate,
    });
    expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'RS256', kid: 'entra-1', typ: 'JWT', 'x5t#S256': x5t });
    await jwtVerify(assertion, certificate.publicKey, { algorithms: ['RS256'] });
  });

  it('rejects a certificate of another key, one that is not a certificate, and one without private_key_jwt, naming the option', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const attempt = (options: Partial<Parameters<typeof createTokenProvider>[0]>) => {
      try {
        createTokenProvider({
          ...certificateOptions,
          tokenEndpoint: server.url,
          privateKey: CLIENT_KEY_PEM,
          certificate: CLIENT_CERTIFICATE_PEM,
          ...options,
        } as Parameters<typeof createTokenProvider>[0]);
      } catch (error) {
        return error as ConfigurationError;
      }
      return expect.fail('expected a ConfigurationError');
    };
    expect(attempt({ privateKey: other }).message).toBe("certificate: does not hold privateKey's public key");
    const notACertificate = attempt({
      certificate: '-----BEGIN CERTIFICATE-----\nbm90LWEtY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----',
    });
    expect(notACertificate.message).toMatch(/^certificate: is not a readable X\.509 certificate/);
    expect(notACertificate.cause).toBeUndefined();
    expect(attempt({ clientAuthMethod: 'client_secret_post', clientSecret: 'secret' }).message).toMatch(
      /^certificate: is used only with clientAuthMethod private_key_jwt/,
    );
    for (const error of [attempt({ privateKey: other }), notACertificate]) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(String(error)).not.toContain('PRIVATE KEY');
    }
  });
});

describe('none', () => {
  it('sends only client_id', async () => {
    const before = server.requests.length;
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'public-client',
      clientAuthMethod: 'none',
      maxRetries: 0,
    });
    await tokens.getToken().catch(() => {});
    const req = server.requests[before]!;
    expect(req.headers.authorization).toBeUndefined();
    expect(req.params).toEqual({ grant_type: 'client_credentials', client_id: 'public-client' });
  });
});
