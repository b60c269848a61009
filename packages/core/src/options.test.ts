import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createTokenProvider, isTokenKitError, type TokenProviderOptions } from './index.ts';

const base: TokenProviderOptions = {
  tokenEndpoint: 'https://auth.example.com/token',
  clientId: 'id',
  clientSecret: 'top-secret-value',
};

function configError(options: unknown): ConfigurationError {
  try {
    createTokenProvider(options as TokenProviderOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

describe('options are validated eagerly, with the option named', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['no endpoint', { clientId: 'id', clientSecret: 's' }, 'tokenEndpoint', /exactly one of tokenEndpoint and issuer/],
    ['both endpoint and issuer', { ...base, issuer: 'https://auth.example.com' }, 'tokenEndpoint', /exactly one/],
    [
      'plain http to a public host',
      { ...base, tokenEndpoint: 'http://auth.example.com/token' },
      'tokenEndpoint',
      /must use https/,
    ],
    [
      'plain http issuer',
      { clientId: 'id', clientSecret: 's', issuer: 'http://auth.example.com' },
      'issuer',
      /must use https/,
    ],
    ['not a URL', { ...base, tokenEndpoint: 'auth.example.com/token' }, 'tokenEndpoint', /absolute URL/],
    [
      'credentials in the URL',
      { ...base, tokenEndpoint: 'https://u:p@auth.example.com/token' },
      'tokenEndpoint',
      /must not contain credentials/,
    ],
    ['empty client id', { ...base, clientId: '' }, 'clientId', /non-empty string/],
    [
      'basic without a secret',
      { ...base, clientSecret: undefined },
      'clientSecret',
      /required with clientAuthMethod client_secret_basic/,
    ],
    ['unknown auth method', { ...base, clientAuthMethod: 'magic' }, 'clientAuthMethod', /must be client_secret_basic/],
    ['private_key_jwt without a key', { ...base, clientAuthMethod: 'private_key_jwt' }, 'privateKey', /is required/],
    ['bad body format', { ...base, bodyFormat: 'xml' }, 'bodyFormat', /'form' or 'json'/],
    [
      'password grant without username',
      { ...base, grant: { type: 'password', password: 'x' } },
      'grant.username',
      /non-empty/,
    ],
    ['refresh grant without token', { ...base, grant: { type: 'refresh_token' } }, 'grant.refreshToken', /non-empty/],
    ['unknown grant', { ...base, grant: { type: 'implicit' } }, 'grant.type', /client_credentials/],
    ['scope with spaces inside an array item', { ...base, scope: ['a b'] }, 'scope', /without spaces/],
    ['negative skew', { ...base, refreshSkewSeconds: -1 }, 'refreshSkewSeconds', />= 0/],
    ['zero timeout', { ...base, timeoutMs: 0 }, 'timeoutMs', /> 0/],
    ['too many retries', { ...base, maxRetries: 50 }, 'maxRetries', /0 to 10/],
    [
      'reserved extra param',
      { ...base, extraParams: { client_secret: 'x' } },
      'extraParams.client_secret',
      /dedicated option/,
    ],
    ['store without methods', { ...base, store: {} }, 'store', /get, set and delete/],
    [
      'plain http to a *.localhost name (resolved by the system, not loopback)',
      { ...base, tokenEndpoint: 'http://auth.localhost/token' },
      'tokenEndpoint',
      /must use https/,
    ],
    ['a relative resource', { ...base, resource: '/api' }, 'resource', /absolute URIs without a fragment/],
    [
      'a resource with a fragment',
      { ...base, resource: 'https://api.example.com/#x' },
      'resource',
      /without a fragment/,
    ],
    [
      'a resource with a space',
      { ...base, resource: 'https://a.example.com/ https://b.example.com/' },
      'resource',
      /white space/,
    ],
    ['unknown basicEncoding', { ...base, basicEncoding: 'utf8' }, 'basicEncoding', /'form' or 'plain'/],
    ['defaultTokenType other than Bearer', { ...base, defaultTokenType: 'MAC' }, 'defaultTokenType', /'Bearer'/],
  ];
  for (const [name, options, option, message] of cases) {
    it(name, () => {
      const error = configError(options);
      expect(error.option).toBe(option);
      expect(error.code).toBe('invalid_option');
      expect(error.message).toMatch(message);
      expect(isTokenKitError(error)).toBe(true);
      expect(String(error) + inspect(error)).not.toContain('top-secret-value');
    });
  }

  it('plain http is fine on loopback addresses', () => {
    for (const url of [
      'http://127.0.0.1:8080/token',
      'http://localhost/token',
      'http://[::1]:9/token',
      'http://127.8.9.10/t',
    ]) {
      expect(() => createTokenProvider({ ...base, tokenEndpoint: url })).not.toThrow();
    }
  });
});

describe('cache keys', () => {
  const key = (extra: Partial<TokenProviderOptions>) => createTokenProvider({ ...base, ...extra }).key;

  it('are built from structure: two resources never key like one that joins them', () => {
    expect(key({ resource: ['https://a.example.com/', 'https://b.example.com/'] })).not.toBe(
      key({ resource: 'https://a.example.com/%20https://b.example.com/' }),
    );
    expect(key({ extraParams: { a: ['1', '2'] } })).not.toBe(key({ extraParams: { a: '1,2' } }));
    expect(key({ extraParams: { a: ['1', '2'] } })).not.toBe(key({ extraParams: { a: '["1","2"]' } }));
  });

  it('ignore the order of scopes and resources, and never include the secret', () => {
    expect(key({ scope: 'a b' })).toBe(key({ scope: ['b', 'a'] }));
    expect(key({ resource: ['https://a.example.com/', 'https://b.example.com/'] })).toBe(
      key({ resource: ['https://b.example.com/', 'https://a.example.com/'] }),
    );
    expect(key({ clientSecret: 'one' })).toBe(key({ clientSecret: 'two' }));
  });
});

describe('private_key_jwt keys whose alg does not fit them are refused at creation', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const jwk = (key: KeyObject, alg: string) => ({ ...(key.export({ format: 'jwk' }) as JWK), alg });
  const cases: [string, JWK][] = [
    ['RS256 on an EC key', jwk(ec, 'RS256')],
    ['HS256', jwk(ec, 'HS256')],
    ['none', jwk(rsa, 'none')],
    ['"ES256 " with a space', jwk(ec, 'ES256 ')],
    ['ES384 on a P-256 key', jwk(ec, 'ES384')],
    ['ES256 on an RSA key', jwk(rsa, 'ES256')],
  ];
  for (const [name, privateKey] of cases) {
    it(name, () => {
      const error = configError({ ...base, clientAuthMethod: 'private_key_jwt', privateKey });
      expect(error.option).toBe('privateKey');
      expect(error.message).toMatch(/does not fit/);
      expect(error.message).not.toContain(String(privateKey.d));
    });
  }

  it('a fitting alg is accepted (PS256 on RSA, ES256 on P-256)', () => {
    expect(() =>
      createTokenProvider({ ...base, clientAuthMethod: 'private_key_jwt', privateKey: jwk(rsa, 'PS256') }),
    ).not.toThrow();
    expect(() =>
      createTokenProvider({ ...base, clientAuthMethod: 'private_key_jwt', privateKey: jwk(ec, 'ES256') }),
    ).not.toThrow();
  });
});

describe('the provider does not show its secrets', () => {
  it('util.inspect, JSON.stringify and String show only the endpoint, client id and key', () => {
    const tokens = createTokenProvider({
      ...base,
      grant: { type: 'password', username: 'u', password: 'pw-secret-123' },
    });
    for (const out of [
      inspect(tokens, { showHidden: true, depth: 10 }),
      JSON.stringify(tokens),
      String(tokens),
      JSON.stringify(Object.entries(tokens)),
    ]) {
      expect(out).not.toContain('top-secret-value');
      expect(out).not.toContain('pw-secret-123');
    }
    expect(inspect(tokens)).toMatch(
      /^TokenProvider \{ https:\/\/auth\.example\.com\/token, clientId: "id", key: tk2\./,
    );
  });
});
