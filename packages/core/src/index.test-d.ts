import { X509Certificate } from 'node:crypto';
import { expectTypeOf, test } from 'vitest';
import {
  createTokenProvider,
  type AccessToken,
  type CertificateInput,
  type Grant,
  type TokenExchangeGrant,
  type TokenProvider,
  type TokenSource,
} from './index.ts';

test('options read straight from the environment compile', () => {
  const tokens = createTokenProvider({
    tokenEndpoint: process.env['TOKEN_URL'],
    clientId: process.env['CLIENT_ID'],
    clientSecret: process.env['CLIENT_SECRET'],
    scope: process.env['SCOPE'],
  });
  expectTypeOf(tokens).toEqualTypeOf<TokenProvider>();
  expectTypeOf(tokens.getToken()).resolves.toEqualTypeOf<AccessToken>();
  expectTypeOf(tokens.authorizationHeader()).resolves.toBeString();
});

test('misuse is a compile error', () => {
  // @ts-expect-error clientId is required
  createTokenProvider({ tokenEndpoint: 'https://a.example/token' });
  // @ts-expect-error unknown grant type
  createTokenProvider({ tokenEndpoint: 'https://a.example/token', clientId: 'c', grant: { type: 'implicit' } });
  createTokenProvider({
    tokenEndpoint: 'https://a.example/token',
    clientId: 'c',
    // @ts-expect-error password grant needs a password
    grant: { type: 'password', username: 'u' },
  });
  // @ts-expect-error bodyFormat is 'form' or 'json'
  createTokenProvider({ tokenEndpoint: 'https://a.example/token', clientId: 'c', bodyFormat: 'xml' });
  // @ts-expect-error the token is read-only
  (null as unknown as AccessToken).accessToken = 'x';
});

test('a certificate is a PEM string or an X509Certificate', () => {
  const certificate: CertificateInput = new X509Certificate('-----BEGIN CERTIFICATE-----');
  createTokenProvider({
    tokenEndpoint: 'https://login.example.com/token',
    clientId: 'app',
    clientAuthMethod: 'private_key_jwt',
    privateKey: 'pem',
    certificate,
  });
  createTokenProvider({
    tokenEndpoint: 'https://login.example.com/token',
    clientId: 'app',
    clientAuthMethod: 'private_key_jwt',
    privateKey: 'pem',
    certificate: 'pem',
  });
  createTokenProvider({
    tokenEndpoint: 'https://login.example.com/token',
    clientId: 'app',
    privateKey: 'pem',
    // @ts-expect-error a thumbprint is not a certificate
    certificate: Buffer.from('thumbprint'),
  });
});

test('token exchange, JWT bearer and extension grants', () => {
  const own = createTokenProvider({ tokenEndpoint: 'https://a.example/token', clientId: 'c', clientSecret: 's' });
  const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
  const sources: TokenSource[] = ['t', () => 't', async () => 't', own];
  for (const subjectToken of sources) {
    const grant: TokenExchangeGrant = { type: 'token_exchange', subjectToken, subjectTokenType: ACCESS };
    createTokenProvider({ tokenEndpoint: 'https://a.example/token', clientId: 'c', clientSecret: 's', grant });
  }
  const grants: Grant[] = [
    { type: 'token_exchange', subjectToken: own, subjectTokenType: ACCESS, actorToken: 'a', actorTokenType: ACCESS },
    { type: 'jwt_bearer', assertion: 'a.b.c' },
    { type: 'jwt_bearer', assertion: async () => 'a.b.c' },
    { type: 'jwt_bearer', sign: { privateKey: 'pem', claims: { sub: 'u', scope: 'read' }, alg: 'ES256' } },
    {
      type: 'extension',
      grantType: 'urn:example:grant',
      params: { a: 'b', list: ['c'] },
      secretParams: { k: () => 'v' },
    },
  ];
  expectTypeOf(grants).toBeArray();
  // @ts-expect-error the subject token type is required (RFC 8693 §2.1)
  const noType: Grant = { type: 'token_exchange', subjectToken: 't' };
  // @ts-expect-error an assertion or sign, not both
  const both: Grant = { type: 'jwt_bearer', assertion: 'a', sign: { privateKey: 'pem' } };
  // @ts-expect-error a subject token is a string, a function or a TokenProvider
  const wrongSubject: Grant = { type: 'token_exchange', subjectToken: 42, subjectTokenType: ACCESS };
  // @ts-expect-error secret parameters are strings or functions, not lists
  const list: Grant = { type: 'extension', grantType: 'urn:x', secretParams: { k: ['v'] } };
  void [noType, both, wrongSubject, list];
  expectTypeOf<AccessToken['tokenType']>().toEqualTypeOf<'Bearer' | 'DPoP' | 'N_A'>();
  expectTypeOf<AccessToken['issuedTokenType']>().toEqualTypeOf<string | undefined>();
});
