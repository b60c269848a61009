// tokenkit doctor against the real Debian authorization servers of the suite (skipped where they are not installed:
// `bash scripts/servers.sh` installs them). Each shows a quirk docs/interop.md describes, found by the doctor alone.
import {
  hasDjangoOAuth,
  hasGlewlwyd,
  startDjangoOAuth,
  startGlewlwyd,
  type DjangoOAuthServer,
  type GlewlwydServer,
} from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaks, runCli } from './fixtures/run.ts';

describe.skipIf(!hasGlewlwyd())('tokenkit doctor against Glewlwyd 2.7', () => {
  let gl: GlewlwydServer;
  beforeAll(async () => {
    gl = await startGlewlwyd();
  }, 90_000);
  afterAll(async () => {
    await gl?.stop();
  }, 30_000);

  it("finds that Glewlwyd does not decode Basic credentials: basicEncoding 'plain'", async () => {
    const { clientId, clientSecret } = gl.clients.basic;
    const run = await runCli(['doctor', '--scope', gl.scopes[0]!], {
      env: { TOKENKIT_ISSUER: gl.issuer, TOKENKIT_CLIENT_ID: clientId, TOKENKIT_CLIENT_SECRET: clientSecret },
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`token endpoint: ${gl.tokenEndpoint}`);
    // Glewlwyd refuses with a bare 403, no invalid_client: the doctor still tries the other methods.
    expect(run.stdout).toMatch(
      /FAIL {2}client_secret_basic \(id and secret form-encoded, RFC 6749\), chosen by tokenkit: HTTP 403/,
    );
    expect(run.stdout).toMatch(/ok {4}client_secret_basic \(id:secret unencoded, basicEncoding: 'plain'\): a token/);
    expect(run.stdout).toMatch(/ok {4}token_type: bearer \(tokenkit reads it as Bearer/);
    expect(run.stdout).toContain(`  issuer: '${gl.issuer}',\n`);
    expect(run.stdout).toContain(`  clientAuthMethod: 'client_secret_basic',\n  basicEncoding: 'plain',\n`);
    expect(leaks(run, [{ secret: clientSecret, clientId }])).toEqual([]);
    expect(run.stdout + run.stderr).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
  });
});

describe.skipIf(!hasDjangoOAuth())('tokenkit doctor against Django OAuth Toolkit 1.7', () => {
  let dot: DjangoOAuthServer;
  beforeAll(async () => {
    dot = await startDjangoOAuth();
  }, 90_000);
  afterAll(async () => {
    await dot?.stop();
  }, 30_000);

  it("shows discovery's 301 to the trailing-slash URL, and a token with the default Basic", async () => {
    const { clientId, clientSecret } = dot.clients.credentials;
    const run = await runCli(['doctor'], {
      env: { TOKENKIT_ISSUER: dot.issuer, TOKENKIT_CLIENT_ID: clientId, TOKENKIT_CLIENT_SECRET: clientSecret },
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${dot.issuer}/.well-known/openid-configuration: HTTP 301 to `);
    expect(run.stdout).toMatch(/openid-configuration\/: HTTP 200/);
    expect(run.stdout).toMatch(
      /client authentication: client_secret_post, client_secret_basic|client_secret_basic, client_secret_post/,
    );
    expect(run.stdout).toMatch(
      /ok {4}client_secret_basic \(id and secret form-encoded, RFC 6749\), chosen by tokenkit: a token/,
    );
    expect(run.stdout).toMatch(/^Result: the configuration works/m);
    expect(leaks(run, [{ secret: clientSecret, clientId }])).toEqual([]);
  });
});
