import { X509Certificate } from 'node:crypto';
import { expectTypeOf, test } from 'vitest';
import { createTokenProvider, type AccessToken, type CertificateInput, type TokenProvider } from './index.ts';

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
