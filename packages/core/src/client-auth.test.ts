import { generateKeyPairSync } from 'node:crypto';
import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization, ConfigurationError, createTokenProvider } from './index.ts';

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
    const tokens = createTokenProvider({ tokenEndpoint: server.url, clientId: 'my client', clientSecret: 'p@ss:w/rd+%' });
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
      const { payload } = await jwtVerify(assertion, publicKey, { issuer: 'jwt-client', subject: 'jwt-client', audience: server.url });
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
      const tokens = createTokenProvider({ tokenEndpoint: server.url, clientId: 'jwt-client', clientAuthMethod: 'private_key_jwt', privateKey: pair.privateKey, maxRetries: 0 });
      await tokens.getToken().catch(() => {});
      const assertion = server.requests[before]!.params['client_assertion'] as string;
      expect(decodeProtectedHeader(assertion).alg).toBe(alg);
      await jwtVerify(assertion, pair.publicKey);
    }
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'k-7', alg: 'PS256' };
    const before = server.requests.length;
    const tokens = createTokenProvider({ tokenEndpoint: server.url, clientId: 'jwt-client', clientAuthMethod: 'private_key_jwt', privateKey: jwk, maxRetries: 0 });
    await tokens.getToken().catch(() => {});
    expect(decodeProtectedHeader(server.requests[before]!.params['client_assertion'] as string)).toEqual({ alg: 'PS256', kid: 'k-7' });
  });

  it('rejects a public key or garbage with a ConfigurationError that quotes no key material', () => {
    expect(() => createTokenProvider({ tokenEndpoint: server.url, clientId: 'c', clientAuthMethod: 'private_key_jwt', privateKey: publicKey })).toThrow(
      /privateKey: must be a private key, got a public key/,
    );
    const garbage = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----';
    let error: unknown;
    try {
      createTokenProvider({ tokenEndpoint: server.url, clientId: 'c', clientAuthMethod: 'private_key_jwt', privateKey: garbage });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(String(error)).not.toContain('c2VjcmV0');
    expect((error as ConfigurationError).cause).toBeUndefined();
  });
});

describe('none', () => {
  it('sends only client_id', async () => {
    const before = server.requests.length;
    const tokens = createTokenProvider({ tokenEndpoint: server.url, clientId: 'public-client', clientAuthMethod: 'none', maxRetries: 0 });
    await tokens.getToken().catch(() => {});
    const req = server.requests[before]!;
    expect(req.headers.authorization).toBeUndefined();
    expect(req.params).toEqual({ grant_type: 'client_credentials', client_id: 'public-client' });
  });
});
