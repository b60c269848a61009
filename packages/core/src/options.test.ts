import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createTokenProvider, isTokenKitError, type TokenProviderOptions } from './index.ts';

const base: TokenProviderOptions = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'id', clientSecret: 'top-secret-value' };

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
    ['plain http to a public host', { ...base, tokenEndpoint: 'http://auth.example.com/token' }, 'tokenEndpoint', /must use https/],
    ['plain http issuer', { clientId: 'id', clientSecret: 's', issuer: 'http://auth.example.com' }, 'issuer', /must use https/],
    ['not a URL', { ...base, tokenEndpoint: 'auth.example.com/token' }, 'tokenEndpoint', /absolute URL/],
    ['credentials in the URL', { ...base, tokenEndpoint: 'https://u:p@auth.example.com/token' }, 'tokenEndpoint', /must not contain credentials/],
    ['empty client id', { ...base, clientId: '' }, 'clientId', /non-empty string/],
    ['basic without a secret', { ...base, clientSecret: undefined }, 'clientSecret', /required with clientAuthMethod client_secret_basic/],
    ['unknown auth method', { ...base, clientAuthMethod: 'magic' }, 'clientAuthMethod', /must be client_secret_basic/],
    ['private_key_jwt without a key', { ...base, clientAuthMethod: 'private_key_jwt' }, 'privateKey', /is required/],
    ['bad body format', { ...base, bodyFormat: 'xml' }, 'bodyFormat', /'form' or 'json'/],
    ['password grant without username', { ...base, grant: { type: 'password', password: 'x' } }, 'grant.username', /non-empty/],
    ['refresh grant without token', { ...base, grant: { type: 'refresh_token' } }, 'grant.refreshToken', /non-empty/],
    ['unknown grant', { ...base, grant: { type: 'implicit' } }, 'grant.type', /client_credentials/],
    ['scope with spaces inside an array item', { ...base, scope: ['a b'] }, 'scope', /without spaces/],
    ['negative skew', { ...base, refreshSkewSeconds: -1 }, 'refreshSkewSeconds', />= 0/],
    ['zero timeout', { ...base, timeoutMs: 0 }, 'timeoutMs', /> 0/],
    ['too many retries', { ...base, maxRetries: 50 }, 'maxRetries', /0 to 10/],
    ['reserved extra param', { ...base, extraParams: { client_secret: 'x' } }, 'extraParams.client_secret', /dedicated option/],
    ['store without methods', { ...base, store: {} }, 'store', /get, set and delete/],
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
    for (const url of ['http://127.0.0.1:8080/token', 'http://localhost/token', 'http://[::1]:9/token', 'http://127.8.9.10/t']) {
      expect(() => createTokenProvider({ ...base, tokenEndpoint: url })).not.toThrow();
    }
  });
});

describe('the provider does not show its secrets', () => {
  it('util.inspect, JSON.stringify and String show only the endpoint, client id and key', () => {
    const tokens = createTokenProvider({ ...base, grant: { type: 'password', username: 'u', password: 'pw-secret-123' } });
    for (const out of [inspect(tokens, { showHidden: true, depth: 10 }), JSON.stringify(tokens), String(tokens), JSON.stringify(Object.entries(tokens))]) {
      expect(out).not.toContain('top-secret-value');
      expect(out).not.toContain('pw-secret-123');
    }
    expect(inspect(tokens)).toMatch(/^TokenProvider \{ https:\/\/auth\.example\.com\/token, clientId: "id", key: tk1\./);
  });
});
