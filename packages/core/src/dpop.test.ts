import { generateKeyPairSync, webcrypto, type JsonWebKey } from 'node:crypto';
import { inspect } from 'node:util';
import {
  startDPoPApi,
  startOidcProvider,
  startTokenServer,
  type DPoPApi,
  type OidcServer,
  type TokenServer,
} from '@tokenkit/test-utils';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  isTokenEndpointError,
  memoryStore,
  type TokenProviderOptions,
  type TokenStore,
} from './index.ts';

// A real OpenID provider: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let op: OidcServer;
let opNonce: OidcServer;
let api: DPoPApi;
let apiNonce: DPoPApi;
let tokenServer: TokenServer;
beforeAll(async () => {
  [op, opNonce, tokenServer] = await Promise.all([
    startOidcProvider({ dpop: {} }),
    startOidcProvider({ dpop: { requireNonce: true } }),
    startTokenServer(),
  ]);
  [api, apiNonce] = await Promise.all([
    startDPoPApi({ issuer: op.issuer, jwksUri: op.jwksUri }),
    startDPoPApi({ issuer: opNonce.issuer, jwksUri: opNonce.jwksUri, requireNonce: true }),
  ]);
});
afterAll(() => Promise.all([op, opNonce, api, apiNonce, tokenServer].map((s) => s.close())));

const base = (server: OidcServer, extra: Partial<TokenProviderOptions> = {}) =>
  createTokenProvider({
    tokenEndpoint: server.tokenEndpoint,
    clientId: server.clients.basic.clientId,
    clientSecret: server.clients.basic.clientSecret,
    dpop: true,
    ...extra,
  });

/** Every form a private key's `d` could take in text. */
function keyForms(jwk: JsonWebKey): string[] {
  const d = jwk.d!;
  return [d, Buffer.from(d, 'base64url').toString('base64'), Buffer.from(d, 'base64url').toString('hex')];
}

describe('DPoP at the token endpoint (oidc-provider)', () => {
  it('a token request carries a proof; the token is DPoP-bound to the key (cnf.jkt) and served as DPoP', async () => {
    const tokens = base(op);
    const token = await tokens.getToken();
    expect(token.tokenType).toBe('DPoP');
    const { payload } = await jwtVerify(token.accessToken, createRemoteJWKSet(new URL(op.jwksUri)), {
      issuer: op.issuer,
    });
    expect((payload['cnf'] as { jkt: string }).jkt).toBe(tokens.dpop!.thumbprint);
    expect(await tokens.authorizationHeader()).toBe(`DPoP ${token.accessToken}`);
    expect(tokens.cachedAuthorizationHeader()).toBe(`DPoP ${token.accessToken}`);
  });

  it("answers 400 use_dpop_nonce with one re-send carrying the server's nonce; later requests use it at once", async () => {
    const tokens = base(opNonce);
    const before = opNonce.tokenRequests;
    await tokens.getToken();
    expect(opNonce.tokenRequests).toBe(before + 2);
    expect(tokens.dpop!.nonceFor(opNonce.tokenEndpoint)).toBeDefined();
    // Another provider with the same key: a new process would ask twice; this one knows the nonce.
    await tokens.invalidate((await tokens.getToken()).accessToken);
    const again = opNonce.tokenRequests;
    await tokens.getToken();
    expect(opNonce.tokenRequests).toBe(again + 1);
  });

  it('FAPI 2.0 style (docs/providers.md): private_key_jwt and DPoP with a shared key, against nonces', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const tokens = createTokenProvider({
      issuer: opNonce.issuer,
      clientId: opNonce.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: opNonce.clients.privateKeyJwt.privateJwk,
      dpop: { key: key.export({ format: 'jwk' }) },
      store: { get: async () => undefined, set: async () => {}, delete: async () => {} }, // a given key may share one
    });
    const url = `${apiNonce.origin}/accounts`;
    let response = await fetch(url, { headers: await tokens.requestHeaders('GET', url) });
    if (response.status === 401) {
      tokens.dpop!.setNonce(url, response.headers.get('dpop-nonce')!);
      response = await fetch(url, { headers: await tokens.requestHeaders('GET', url) });
    }
    expect(response.status).toBe(200);
  });

  it('a proof has typ dpop+jwt, the public jwk only, htm POST, htu without query, iat, a fresh jti per attempt', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tokens = createTokenProvider({
      tokenEndpoint: `${tokenServer.url}?tenant=a#frag`,
      clientId: 'client-id',
      clientSecret: 'client-secret',
      dpop: { key: key.privateKey },
      maxRetries: 1,
    });
    const from = tokenServer.requests.length;
    tokenServer.misbehave((_r, n) =>
      n === from + 1
        ? { status: 503 }
        : { status: 200, body: { access_token: `at-dpop-${n}`, token_type: 'dpop', expires_in: 300 } },
    );
    try {
      await tokens.getToken();
    } finally {
      tokenServer.misbehave(undefined);
    }
    const proofs = tokenServer.requests.slice(from).map((r) => String(r.headers['dpop']));
    expect(proofs).toHaveLength(2);
    const header = decodeProtectedHeader(proofs[0]!);
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256' });
    expect(header.jwk).toEqual(
      expect.objectContaining({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String) }),
    );
    expect(header.jwk).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint(header.jwk!)).toBe(tokens.dpop!.thumbprint);
    const [first, second] = proofs.map((p) => decodeJwt(p));
    expect(first).toMatchObject({ htm: 'POST', htu: tokenServer.url });
    expect(first!.ath).toBeUndefined();
    expect(Math.abs(first!.iat! - Date.now() / 1000)).toBeLessThan(30);
    expect(first!.jti).not.toBe(second!.jti);
    // The verifier's own check: the signature is the key's.
    await expect(jwtVerify(proofs[0]!, key.publicKey, { typ: 'dpop+jwt' })).resolves.toBeDefined();
  });

  it('a refresh request carries a proof too', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
      dpop: true,
    });
    const from = tokenServer.requests.length;
    tokenServer.misbehave((_r, n) => ({
      status: 200,
      body: { access_token: `at-r-${n}`, token_type: 'DPoP', expires_in: 300, refresh_token: `rt-${n}` },
    }));
    try {
      await tokens.invalidate((await tokens.getToken()).accessToken);
      await tokens.getToken();
    } finally {
      tokenServer.misbehave(undefined);
    }
    const sent = tokenServer.requests.slice(from);
    expect(sent.map((r) => r.params['grant_type'])).toEqual(['client_credentials', 'refresh_token']);
    expect(sent.every((r) => typeof r.headers['dpop'] === 'string')).toBe(true);
    expect(decodeJwt(String(sent[1]!.headers['dpop']))).toMatchObject({ htm: 'POST', htu: tokenServer.url });
  });

  it('a Bearer answer to a DPoP request is an invalid_response error, not a silent downgrade', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
      dpop: true,
    });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(isTokenEndpointError(error) && error.code).toBe('invalid_response');
    expect(String((error as Error).message)).toMatch(/Bearer.*DPoP/);
  });
});

describe('DPoP at the API: requestHeaders()', () => {
  it('gives Authorization: DPoP and a proof for the method and URL, accepted by a verifying API', async () => {
    const tokens = base(op);
    const url = `${api.origin}/payments?page=2`;
    const headers = await tokens.requestHeaders('post', url);
    expect(headers.authorization).toMatch(/^DPoP /);
    const response = await fetch(url, { method: 'POST', headers, body: '{}' });
    expect(response.status).toBe(200);
    expect(api.requests.at(-1)!.proof).toMatchObject({ htm: 'POST', htu: `${api.origin}/payments` });
    // The proof is bound to its method: the same headers for a GET are refused.
    expect((await fetch(url, { headers: await tokens.requestHeaders('POST', url) })).status).toBe(401);
    expect(api.requests.at(-1)!.refused).toMatch(/htm/);
  });

  it('an API nonce: setNonce() from its DPoP-Nonce answer, and the next proof carries it', async () => {
    const tokens = base(opNonce);
    const url = `${apiNonce.origin}/payments`;
    const first = await fetch(url, { headers: await tokens.requestHeaders('GET', url) });
    expect(first.status).toBe(401);
    expect(first.headers.get('www-authenticate')).toMatch(/use_dpop_nonce/);
    tokens.dpop!.setNonce(url, first.headers.get('dpop-nonce')!);
    const second = await fetch(url, { headers: await tokens.requestHeaders('GET', url) });
    expect(second.status).toBe(200);
    expect(apiNonce.requests.at(-1)!.proof?.nonce).toBe(apiNonce.nonce);
  });

  it('Bearer providers give only authorization', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.basic.clientId,
      clientSecret: op.clients.basic.clientSecret,
    });
    const headers = await tokens.requestHeaders('GET', `${api.origin}/x`);
    expect(Object.keys(headers)).toEqual(['authorization']);
    expect(headers.authorization).toMatch(/^Bearer /);
    expect(tokens.dpop).toBeUndefined();
  });
});

describe('DPoP keys', () => {
  it("the cache key includes the key's thumbprint; Bearer keys do not change", () => {
    const options = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'c', clientSecret: 's' };
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const bearer = createTokenProvider(options).key;
    const a = createTokenProvider({ ...options, dpop: { key } });
    const b = createTokenProvider({ ...options, dpop: { key: key.export({ format: 'jwk' }) } });
    const c = createTokenProvider({ ...options, dpop: true });
    expect(a.key).toBe(b.key);
    expect(a.dpop!.thumbprint).toBe(b.dpop!.thumbprint);
    expect(new Set([bearer, a.key, c.key]).size).toBe(3);
    expect(createTokenProvider({ ...options, dpop: false }).key).toBe(bearer);
    // The key before DPoP existed, for the same options (docs/benchmarks and stores keep working).
    expect(bearer).toBe(createTokenProvider(options).key);
  });

  it('a generated key with a shared store is refused, naming dpop; memoryStore() and a given key are fine', () => {
    const store: TokenStore = { get: async () => undefined, set: async () => {}, delete: async () => {} };
    const options = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'c', clientSecret: 's', store };
    const refused = (() => {
      try {
        createTokenProvider({ ...options, dpop: true });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect((refused as ConfigurationError).message).toMatch(/dpop.*share|same key/is);
    expect(() => createTokenProvider({ ...options, dpop: {} })).toThrow(ConfigurationError);
    expect(() => createTokenProvider({ ...options, store: memoryStore(), dpop: true })).not.toThrow();
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => createTokenProvider({ ...options, dpop: { key } })).not.toThrow();
  });

  it('takes Ed25519, P-384, RSA (PS256) and extractable Web Crypto key pairs; refuses what cannot sign a proof', async () => {
    const options = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'c', clientSecret: 's' };
    const ed = createTokenProvider({ ...options, dpop: { key: generateKeyPairSync('ed25519').privateKey } });
    expect(ed.dpop!.alg).toBe('EdDSA');
    const p384 = createTokenProvider({
      ...options,
      dpop: { key: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey },
    });
    expect(p384.dpop!.alg).toBe('ES384');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signed = createTokenProvider({ ...options, dpop: { key: rsa.privateKey } }).dpop!.proof(
      'GET',
      'https://a.example/x',
    );
    await expect(jwtVerify(signed, rsa.publicKey, { typ: 'dpop+jwt', algorithms: ['PS256'] })).resolves.toBeDefined();
    const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const web = createTokenProvider({ ...options, dpop: { key: pair } });
    await expect(jwtVerify(web.dpop!.proof('GET', 'https://a.example/'), pair.publicKey)).resolves.toBeDefined();
    const locked = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    expect(() => createTokenProvider({ ...options, dpop: { key: locked } })).toThrow(/extractable/);
    expect(() =>
      createTokenProvider({ ...options, dpop: { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey } }),
    ).toThrow(/private/);
    expect(() => createTokenProvider({ ...options, dpop: { key: { kty: 'oct', k: 'c2VjcmV0' } as never } })).toThrow(
      ConfigurationError,
    );
    expect(() =>
      createTokenProvider({ ...options, dpop: { key: generateKeyPairSync('ed25519').privateKey, alg: 'ES256' } }),
    ).toThrow(/dpop\.alg/);
    expect(() => createTokenProvider({ ...options, dpop: 'yes' as never })).toThrow(/dpop/);
  });

  it('no key material in errors, events, util.inspect or JSON', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pair.privateKey.export({ format: 'jwk' });
    const events: unknown[] = [];
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.basic.clientId,
      clientSecret: 'wrong secret',
      dpop: { key: jwk },
      maxRetries: 0,
      onEvent: (event) => events.push(event),
    });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const bad = { ...jwk, x: 'AAAA' }; // d and x disagree: unreadable
    const badError = (() => {
      try {
        createTokenProvider({ tokenEndpoint: op.tokenEndpoint, clientId: 'c', clientSecret: 's', dpop: { key: bad } });
      } catch (e) {
        return e;
      }
    })();
    expect(badError).toBeInstanceOf(ConfigurationError);
    const text = [
      inspect(tokens, { depth: Infinity, showHidden: true }),
      inspect(tokens.dpop, { depth: Infinity, showHidden: true }),
      JSON.stringify(tokens),
      JSON.stringify(tokens.dpop),
      inspect(error, { depth: Infinity, showHidden: true }),
      inspect(badError, { depth: Infinity, showHidden: true }),
      inspect(events, { depth: Infinity, showHidden: true }),
      String(tokens),
      tokens.dpop!.proof('GET', 'https://a.example/'),
    ].join('\n');
    for (const form of keyForms(jwk)) expect(text).not.toContain(form);
    expect(inspect(tokens.dpop)).toContain(tokens.dpop!.thumbprint);
  });
});
