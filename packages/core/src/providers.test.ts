// Each recipe of docs/providers.md, run against a local server that answers the
// way that provider does. The configurations are the documented ones with the
// provider's host replaced by 127.0.0.1.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, sendJson, startOidcProvider, startTokenServer } from '@tokenkit/test-utils';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { CLIENT_CERTIFICATE_PEM, CLIENT_KEY_PEM } from './fixtures/client-certificate.ts';
import { createTokenProvider, OAuthError, type TokenEvent } from './index.ts';

// Real servers, an OpenID provider and child processes (SQLite restart): vitest's 5 s default is too short here.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

describe('Bambora Payments API', () => {
  it('client_credentials, five scopes, HTTP Basic, 2 s timeout; the JWT is reused', async () => {
    const server = await startTokenServer({
      path: '/connect/token',
      jwt: true,
      clients: { '<CLIENT_ID>': '<CLIENT_SECRET>' },
    });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: `${server.origin}/connect/token`,
        clientId: '<CLIENT_ID>',
        clientSecret: '<CLIENT_SECRET>',
        scope: ['auth_token_payment', 'cancel_payment', 'capture_payment', 'read_payment', 'refund_payment'],
        timeoutMs: 2000,
      });
      const results = await Promise.all(Array.from({ length: 20 }, () => tokens.getToken()));
      expect(new Set(results.map((t) => t.accessToken)).size).toBe(1);
      expect(server.count).toBe(1);
      const req = server.requests[0]!;
      expect(req.client).toEqual({ id: '<CLIENT_ID>', secret: '<CLIENT_SECRET>', via: 'basic' });
      expect(req.params).toEqual({
        grant_type: 'client_credentials',
        scope: 'auth_token_payment cancel_payment capture_payment read_payment refund_payment',
      });
    } finally {
      await server.close();
    }
  });
});

describe('Bindeo', () => {
  it('JSON bodies for client_credentials, password and refresh_token', async () => {
    const server = await startTokenServer({
      path: '/access_token',
      clients: { 'YOUR CLIENT ID': 'YOUR CLIENT SECRET' },
      users: { USERNAME: 'USER PASSWORD' },
    });
    try {
      const common = {
        tokenEndpoint: `${server.origin}/access_token`,
        clientId: 'YOUR CLIENT ID',
        clientSecret: 'YOUR CLIENT SECRET',
        clientAuthMethod: 'client_secret_post',
        bodyFormat: 'json',
      } as const;
      await createTokenProvider(common).getToken();
      let now = Date.now();
      const user = createTokenProvider({
        ...common,
        grant: { type: 'password', username: 'USERNAME', password: 'USER PASSWORD' },
        now: () => now,
      });
      await user.getToken();
      now += 3600_000; // expired: renewed with the refresh token
      await user.getToken();
      const bodies = server.requests.map((r) => JSON.parse(r.raw) as Record<string, string>);
      expect(server.requests.every((r) => r.contentType === 'application/json')).toBe(true);
      expect(bodies[0]).toEqual({
        grant_type: 'client_credentials',
        client_id: 'YOUR CLIENT ID',
        client_secret: 'YOUR CLIENT SECRET',
      });
      expect(bodies[1]).toEqual({
        grant_type: 'password',
        username: 'USERNAME',
        password: 'USER PASSWORD',
        client_id: 'YOUR CLIENT ID',
        client_secret: 'YOUR CLIENT SECRET',
      });
      expect(bodies[2]).toMatchObject({
        grant_type: 'refresh_token',
        client_id: 'YOUR CLIENT ID',
        client_secret: 'YOUR CLIENT SECRET',
      });
      expect(bodies[2]!['refresh_token']).toMatch(/^rt-/);
    } finally {
      await server.close();
    }
  });
});

describe('APIMatic-generated SDK: token saved to a database and restored at start', () => {
  it('a restarted process takes the stored token from SQLite and makes no token request', async () => {
    const server = await startTokenServer({ clients: { OAuthClientId: 'OAuthClientSecret' } });
    try {
      const db = join(mkdtempSync(join(tmpdir(), 'tokenkit-sqlite-')), 'tokens.db');
      const start = async () => {
        const { stdout } = await promisify(execFile)(process.execPath, [
          '--no-warnings',
          join(import.meta.dirname, 'fixtures/apimatic-client.ts'),
          db,
          server.url,
        ]);
        return JSON.parse(stdout) as { fingerprint: string; fetched: number };
      };
      const first = await start();
      const restarted = await start();
      expect(first.fetched).toBe(1);
      expect(restarted).toEqual({ fingerprint: first.fingerprint, fetched: 0 });
      expect(server.count).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('provider errors are told apart from API errors: OAuthError carries the RFC 6749 fields', async () => {
    const server = await startTokenServer({ clients: { OAuthClientId: 'OAuthClientSecret' } });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: server.url,
        clientId: 'OAuthClientId',
        clientSecret: 'wrong',
      });
      const error = await tokens.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthError);
      expect(error).toMatchObject({
        error: 'invalid_client',
        errorDescription: 'client authentication failed',
        status: 401,
      });
    } finally {
      await server.close();
    }
  });
});

describe('Aritma PSD2 (OpenID Connect)', () => {
  it('discovery, client_secret_post, two scopes, reuse until expiry — against a real OpenID provider', async () => {
    const op = await startOidcProvider({ scopes: ['banking.channel.psd2', 'banking.ais.read'] });
    try {
      const events: TokenEvent['type'][] = [];
      const tokens = createTokenProvider({
        issuer: op.issuer,
        clientId: op.clients.post.clientId,
        clientSecret: op.clients.post.clientSecret,
        clientAuthMethod: 'client_secret_post',
        scope: 'banking.channel.psd2 banking.ais.read',
        onEvent: (e) => events.push(e.type),
      });
      const token = await tokens.getToken();
      await tokens.getToken();
      const { payload } = await jwtVerify(token.accessToken, createRemoteJWKSet(new URL(op.jwksUri)), {
        issuer: op.issuer,
      });
      expect(String(payload['scope']).split(' ').sort()).toEqual(['banking.ais.read', 'banking.channel.psd2']);
      // Discovery, then the token request: each with its HTTP attempt.
      expect(events).toEqual([
        'miss',
        'discovery_start',
        'attempt_start',
        'attempt_end',
        'discovery_end',
        'request_start',
        'attempt_start',
        'attempt_end',
        'request_end',
        'fetch',
        'hit',
      ]);
      expect(op.tokenRequests).toBe(1);
    } finally {
      await op.close();
    }
  });
});

describe('AWS Cognito', () => {
  it('HTTP Basic, scope api/write, /oauth2/token', async () => {
    const server = await startTokenServer({
      path: '/oauth2/token',
      clients: { 'Your-Client-ID': 'Your-Client-Secret' },
    });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: `${server.origin}/oauth2/token`,
        clientId: 'Your-Client-ID',
        clientSecret: 'Your-Client-Secret',
        scope: 'api/write',
      });
      await tokens.getToken();
      expect(server.requests[0]!.client?.via).toBe('basic');
      expect(server.requests[0]!.params).toEqual({ grant_type: 'client_credentials', scope: 'api/write' });
    } finally {
      await server.close();
    }
  });
});

describe('Auth0', () => {
  it('audience with client_secret_post', async () => {
    const server = await startTokenServer({ path: '/oauth/token', clients: { 'auth0-client': 'auth0-secret' } });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: `${server.origin}/oauth/token`,
        clientId: 'auth0-client',
        clientSecret: 'auth0-secret',
        clientAuthMethod: 'client_secret_post',
        audience: 'https://api.example.com',
      });
      await tokens.getToken();
      expect(server.requests[0]!.params).toMatchObject({
        grant_type: 'client_credentials',
        audience: 'https://api.example.com',
        client_id: 'auth0-client',
      });
    } finally {
      await server.close();
    }
  });
});

describe('Keycloak', () => {
  it('issuer with a realm path; discovery finds /protocol/openid-connect/token', async () => {
    const server = await startTokenServer({
      path: '/realms/payments/protocol/openid-connect/token',
      clients: { 'payments-service': 'kc-secret' },
    });
    const metadata = await listen((req, res) => {
      if (req.url !== '/realms/payments/.well-known/openid-configuration') return sendJson(res, 404, {});
      sendJson(res, 200, {
        issuer: `${metadata.origin}/realms/payments`,
        token_endpoint: `${server.origin}/realms/payments/protocol/openid-connect/token`,
      });
    });
    try {
      const tokens = createTokenProvider({
        issuer: `${metadata.origin}/realms/payments`,
        clientId: 'payments-service',
        clientSecret: 'kc-secret',
      });
      await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
      expect(server.requests[0]!.client?.via).toBe('basic');
    } finally {
      await Promise.all([server.close(), metadata.close()]);
    }
  });

  it("standard token exchange: the service's own token for the ledger's audience, exchanged again for a new one", async () => {
    const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const server = await startTokenServer({
      path: '/realms/payments/protocol/openid-connect/token',
      clients: { 'payments-service': 'kc-secret' },
      extensionGrants: [TOKEN_EXCHANGE],
    });
    const metadata = await listen((req, res) => {
      if (req.url !== '/realms/payments/.well-known/openid-configuration') return sendJson(res, 404, {});
      sendJson(res, 200, {
        issuer: `${metadata.origin}/realms/payments`,
        token_endpoint: `${server.origin}/realms/payments/protocol/openid-connect/token`,
      });
    });
    try {
      const issuer = `${metadata.origin}/realms/payments`;
      const own = createTokenProvider({ issuer, clientId: 'payments-service', clientSecret: 'kc-secret' });
      const ledger = createTokenProvider({
        issuer,
        clientId: 'payments-service',
        clientSecret: 'kc-secret',
        audience: 'ledger-service',
        grant: {
          type: 'token_exchange',
          subjectToken: own,
          subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
        },
      });
      const exchanged = await ledger.getToken();
      const ownToken = await own.getToken();
      expect(server.requests.at(-1)!.params).toEqual({
        grant_type: TOKEN_EXCHANGE,
        subject_token: ownToken.accessToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'ledger-service',
      });
      expect(exchanged.accessToken).not.toBe(ownToken.accessToken);
      expect(await ledger.getToken()).toBe(exchanged);
      await own.invalidate(ownToken.accessToken);
      const again = await ledger.getToken();
      expect(again.accessToken).not.toBe(exchanged.accessToken);
      expect(server.requests.at(-1)!.params['subject_token']).toBe((await own.getToken()).accessToken);
    } finally {
      await Promise.all([server.close(), metadata.close()]);
    }
  });
});

describe('Microsoft Entra ID', () => {
  it('scope api://<app>/.default, v2.0 token endpoint; expires_in as a string (v1 style) is accepted', async () => {
    const tenant = '11111111-2222-3333-4444-555555555555';
    const server = await startTokenServer({
      path: `/${tenant}/oauth2/v2.0/token`,
      expiresIn: '3599',
      clients: { 'app-client-id': 'entra-secret' },
    });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: `${server.origin}/${tenant}/oauth2/v2.0/token`,
        clientId: 'app-client-id',
        clientSecret: 'entra-secret',
        clientAuthMethod: 'client_secret_post',
        scope: 'api://22222222-aaaa-bbbb-cccc-333333333333/.default',
      });
      const before = Date.now();
      const token = await tokens.getToken();
      // Counted from the request, on a monotonic clock converted to epoch ms: equal within the clocks' 1 ms resolution.
      expect(token.expiresAt).toBeGreaterThanOrEqual(before + 3_599_000 - 1);
      expect(server.requests[0]!.params).toMatchObject({
        scope: 'api://22222222-aaaa-bbbb-cccc-333333333333/.default',
      });
    } finally {
      await server.close();
    }
  });

  it('certificate credentials: the server finds the uploaded certificate by x5t#S256 and verifies the PS256 assertion with it', async () => {
    const tenant = '11111111-2222-3333-4444-555555555555';
    const path = `/${tenant}/oauth2/v2.0/token`;
    // The application's uploaded certificates, by SHA-256 thumbprint, as Entra keeps them.
    const uploaded = new X509Certificate(CLIENT_CERTIFICATE_PEM);
    const certificates = new Map([[createHash('sha256').update(uploaded.raw).digest('base64url'), uploaded]]);
    const server = await listen(async (req, res, body) => {
      const params = new URLSearchParams(body);
      const assertion = params.get('client_assertion') ?? '';
      const header = decodeProtectedHeader(assertion);
      const certificate = certificates.get(String(header['x5t#S256']));
      if (
        certificate === undefined ||
        params.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
      ) {
        return sendJson(res, 401, {
          error: 'invalid_client',
          error_description: 'AADSTS700027: certificate not registered',
        });
      }
      const url = `http://${req.headers.host}${req.url}`;
      const clientId = params.get('client_id') ?? '';
      try {
        await jwtVerify(assertion, certificate.publicKey, {
          algorithms: ['PS256', 'RS256'],
          audience: url,
          issuer: clientId,
          subject: clientId,
          requiredClaims: ['jti', 'nbf', 'exp'],
        });
      } catch {
        return sendJson(res, 401, {
          error: 'invalid_client',
          error_description: 'AADSTS700027: assertion signature invalid',
        });
      }
      sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, access_token: `entra-at-${params.get('scope')}` });
    });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: `${server.origin}${path}`,
        clientId: 'app-client-id',
        clientAuthMethod: 'private_key_jwt',
        privateKey: CLIENT_KEY_PEM,
        certificate: CLIENT_CERTIFICATE_PEM,
        scope: 'api://22222222-aaaa-bbbb-cccc-333333333333/.default',
      });
      expect((await tokens.getToken()).accessToken).toBe(
        'entra-at-api://22222222-aaaa-bbbb-cccc-333333333333/.default',
      );
      // Without the certificate the server cannot tell which key signed: invalid_client.
      const anonymous = createTokenProvider({
        tokenEndpoint: `${server.origin}${path}`,
        clientId: 'app-client-id',
        clientAuthMethod: 'private_key_jwt',
        privateKey: CLIENT_KEY_PEM,
        maxRetries: 0,
      });
      await expect(anonymous.getToken()).rejects.toMatchObject({ error: 'invalid_client' });
    } finally {
      await server.close();
    }
  });
});
