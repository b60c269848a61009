import { startOidcProvider, type OidcServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaks, runCli } from './fixtures/run.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const SIGNATURE = 'c2lnbmF0dXJlLXRoYXQtaXMtbm90LWNoZWNrZWQ';
const jwt = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt' }) =>
  `${b64(header)}.${b64(claims)}.${SIGNATURE}`;

// 2026-03-01 12:00:00 UTC, and 17:30:00 in India (+05:30, no daylight saving time).
const IAT = Date.UTC(2026, 2, 1, 12, 0, 0) / 1000;

let oidc: OidcServer;
beforeAll(async () => {
  oidc = await startOidcProvider();
});
afterAll(async () => {
  await oidc.close();
});

describe('tokenkit inspect', () => {
  it('decodes header and claims, says nothing is verified, shows times in local time with their offset', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = jwt({
      iss: 'https://id.example.com',
      sub: 'svc',
      aud: ['a', 'b'],
      iat: IAT,
      nbf: IAT,
      exp: now + 300,
    });
    const run = await runCli(['inspect', token], { env: { TZ: 'Asia/Kolkata' } });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^Signature NOT verified/);
    expect(run.stdout).toMatch(/^ {2}alg {2}RS256$/m);
    expect(run.stdout).toMatch(/^ {2}aud {2}\["a","b"\]$/m);
    expect(run.stdout).toContain(`iat  ${IAT}  2026-03-01 17:30:00 +05:30 (`);
    expect(run.stdout).toMatch(/^Expires in (4 min 5\d s|5 min) \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30\)\.$/m);
    // The signature is what makes a JWT usable: it is never printed.
    expect(leaks(run, [SIGNATURE])).toEqual([]);
  });

  it('reads the token from stdin, also as an Authorization header line (tokenkit token --header | tokenkit inspect)', async () => {
    const token = jwt({ sub: 'svc', exp: Math.floor(Date.now() / 1000) + 3600 });
    for (const input of [`${token}\n`, `Authorization: Bearer ${token}\n`, `Bearer ${token}`]) {
      const run = await runCli(['inspect'], { stdin: input, env: { TZ: 'UTC' } });
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^ {2}sub {2}svc$/m);
      expect(run.stdout).toMatch(/^Expires in (59 min 5\d s|1 h)/m);
    }
  });

  it('an expired token or one not yet valid: the same report, exit 1', async () => {
    const expired = await runCli(['inspect', jwt({ exp: IAT })], { env: { TZ: 'UTC' } });
    expect(expired.code).toBe(1);
    expect(expired.stdout).toMatch(/^Expired \d+ days( \d+ h)? ago \(2026-03-01 12:00:00 \+00:00\)\.$/m);

    const early = await runCli(['inspect', jwt({ nbf: Math.floor(Date.now() / 1000) + 7200 })], { env: { TZ: 'UTC' } });
    expect(early.code).toBe(1);
    expect(early.stdout).toMatch(/^No exp claim/m);
    expect(early.stdout).toMatch(/^Not valid before .* \(in (1 h 59 min|2 h)\)\.$/m);
  });

  it('--json: header, claims, verified: false and the expiry', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const run = await runCli(['inspect', '--json', jwt({ sub: 'svc', exp })]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      header: { alg: 'RS256', typ: 'at+jwt' },
      claims: { sub: 'svc', exp },
      verified: false,
      expiresAt: new Date(exp * 1000).toISOString(),
      expiresInSeconds: expect.any(Number),
      expired: false,
      notYetValid: false,
    });
  });

  it('an opaque token or a JWE: said so, exit 1, the token not echoed', async () => {
    const opaque = 'at-0123456789abcdef0123456789abcdef';
    const run = await runCli(['inspect', opaque]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/not a JWT: an opaque token of 35 characters/);
    expect(leaks(run, [opaque])).toEqual([]);

    const jwe = `${b64({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })}.a2V5.aXY.Y2lwaGVydGV4dA.dGFn`;
    const encrypted = await runCli(['inspect', jwe]);
    expect(encrypted.code).toBe(1);
    expect(encrypted.stdout).toMatch(/encrypted JWT \(JWE\)/);
    expect(encrypted.stdout).toMatch(/^ {2}enc {2}A256GCM$/m);
  });

  it('no token at all is a usage error (exit 2)', async () => {
    const run = await runCli(['inspect'], { stdin: '\n' });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/the token is empty/);
  });

  it("decodes a real provider's JWT access token piped from tokenkit token", async () => {
    const { clientId, clientSecret } = oidc.clients.post;
    const env = {
      TOKENKIT_ISSUER: oidc.issuer,
      TOKENKIT_CLIENT_ID: clientId,
      TOKENKIT_CLIENT_SECRET: clientSecret,
      TOKENKIT_AUTH_METHOD: 'client_secret_post',
      TOKENKIT_SCOPE: 'payments:read',
    };
    const token = await runCli(['token'], { env });
    expect(token.code).toBe(0);
    const run = await runCli(['inspect'], { stdin: token.stdout });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ {2}typ {2}at\+jwt$/m);
    expect(run.stdout).toMatch(new RegExp(`^ {2}iss +${oidc.issuer}$`, 'm'));
    expect(run.stdout).toMatch(new RegExp(`^ {2}aud +${oidc.resource}$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}scope +payments:read$/m);
    expect(run.stdout).toMatch(/^Expires in (4 min 5\d s|5 min)/m);
    expect(leaks(run, [token.stdout.trim().split('.')[2]!])).toEqual([]);
  });
});
