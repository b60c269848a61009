import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import {
  listen,
  sendJson,
  startTokenServer,
  waitFor,
  type RunningServer,
  type TokenServer,
} from '@tokenkit/test-utils';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  type Grant,
  type TokenEvent,
  type TokenProviderOptions,
} from './index.ts';
import { secretForms } from './scrub.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const EXT = 'urn:example:params:oauth:grant-type:device-key';

let server: TokenServer;
/** A token endpoint that quotes the request it got in its error text, as some misconfigured gateways do. */
let echo: RunningServer;
let echoMode: 'oauth' | 'json' = 'oauth';
beforeAll(async () => {
  // The token server answers these like client_credentials: here, only what tokenkit sends matters.
  server = await startTokenServer({
    extensionGrants: [
      EXT,
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ],
  });
  echo = await listen((_req, res, body) => {
    const quoted = `got body=${body}`;
    if (echoMode === 'oauth') return sendJson(res, 400, { error: 'invalid_grant', error_description: quoted });
    return sendJson(res, 502, { message: quoted });
  });
});
afterAll(async () => {
  await server.close();
  await echo.close();
});

const base = (grant: Grant, extra: Partial<TokenProviderOptions> = {}): TokenProviderOptions => ({
  tokenEndpoint: server.url,
  clientId: 'client-id',
  clientSecret: 'client-secret',
  grant,
  ...extra,
});

function configurationError(options: TokenProviderOptions): ConfigurationError {
  try {
    createTokenProvider(options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  return expect.fail('expected a ConfigurationError');
}

describe('grant options are validated at creation, naming the option', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases: [string, unknown, string][] = [
    ['no subject token', { type: 'token_exchange', subjectTokenType: ACCESS }, 'grant.subjectToken'],
    [
      'an empty subject token',
      { type: 'token_exchange', subjectToken: '', subjectTokenType: ACCESS },
      'grant.subjectToken',
    ],
    [
      'a subject token type that is no URI',
      { type: 'token_exchange', subjectToken: 't', subjectTokenType: 'access_token' },
      'grant.subjectTokenType',
    ],
    [
      'an actor token without its type',
      { type: 'token_exchange', subjectToken: 't', subjectTokenType: ACCESS, actorToken: 'a' },
      'grant.actorTokenType',
    ],
    [
      'an actor token type without a token',
      { type: 'token_exchange', subjectToken: 't', subjectTokenType: ACCESS, actorTokenType: ACCESS },
      'grant.actorTokenType',
    ],
    [
      'a requested token type that is no URI',
      { type: 'token_exchange', subjectToken: 't', subjectTokenType: ACCESS, requestedTokenType: 'jwt' },
      'grant.requestedTokenType',
    ],
    ['jwt_bearer with neither assertion nor sign', { type: 'jwt_bearer' }, 'grant.assertion'],
    ['jwt_bearer with both', { type: 'jwt_bearer', assertion: 'a.b.c', sign: { privateKey } }, 'grant.assertion'],
    ['an empty assertion', { type: 'jwt_bearer', assertion: '' }, 'grant.assertion'],
    ['an unreadable signing key', { type: 'jwt_bearer', sign: { privateKey: 'not a key' } }, 'grant.sign.privateKey'],
    [
      'an alg that does not fit the key',
      { type: 'jwt_bearer', sign: { privateKey, alg: 'RS256' } },
      'grant.sign.privateKey',
    ],
    [
      'a claim tokenkit sets',
      { type: 'jwt_bearer', sign: { privateKey, claims: { exp: 1 } } },
      'grant.sign.claims.exp',
    ],
    ['an empty sub', { type: 'jwt_bearer', sign: { privateKey, claims: { sub: '' } } }, 'grant.sign.claims.sub'],
    [
      'a lifetime below a second',
      { type: 'jwt_bearer', sign: { privateKey, lifetimeSeconds: 0 } },
      'grant.sign.lifetimeSeconds',
    ],
    ['an extension grant type that is no URI', { type: 'extension', grantType: 'device_key' }, 'grant.grantType'],
    [
      'an extension grant for a grant with its own type',
      { type: 'extension', grantType: 'urn:ietf:params:oauth:grant-type:token-exchange' },
      'grant.grantType',
    ],
    ['a reserved parameter', { type: 'extension', grantType: EXT, params: { scope: 'x' } }, 'grant.params.scope'],
    [
      'a reserved secret parameter',
      { type: 'extension', grantType: EXT, secretParams: { client_secret: 'x' } },
      'grant.secretParams.client_secret',
    ],
    [
      'a parameter given twice',
      { type: 'extension', grantType: EXT, params: { k: 'a' }, secretParams: { k: 'b' } },
      'grant.secretParams.k',
    ],
    ['a parameter that is not a string', { type: 'extension', grantType: EXT, params: { n: 1 } }, 'grant.params.n'],
    ['a grant URI as the type', { type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }, 'grant.type'],
    ['an unknown type', { type: 'implicit' }, 'grant.type'],
  ];
  for (const [what, grant, option] of cases) {
    it(what, () => {
      expect(configurationError(base(grant as Grant)).option).toBe(option);
    });
  }

  it('a grant URI as the type points to the grant that sends it', () => {
    expect(
      configurationError(base({ type: 'urn:ietf:params:oauth:grant-type:token-exchange' } as never)).message,
    ).toContain("type: 'token_exchange'");
    expect(configurationError(base({ type: 'urn:example:grant' } as never)).message).toContain("type: 'extension'");
  });

  it('extraParams cannot set what a grant sends', () => {
    for (const name of ['assertion', 'subject_token', 'actor_token', 'requested_token_type']) {
      const error = configurationError({ ...base({ type: 'client_credentials' }), extraParams: { [name]: 'x' } });
      expect(error.option).toBe(`extraParams.${name}`);
    }
  });
});

describe('requests the grants send (a real token endpoint on 127.0.0.1)', () => {
  it('token exchange sends the RFC 8693 parameters, audience and resource from the provider options', async () => {
    const tokens = createTokenProvider(
      base(
        {
          type: 'token_exchange',
          subjectToken: 'subject-1',
          subjectTokenType: ACCESS,
          actorToken: async () => 'actor-1',
          actorTokenType: ACCESS,
          requestedTokenType: ACCESS,
        },
        { audience: 'https://ledger.example.test', resource: ['https://a.example.test/', 'https://b.example.test/'] },
      ),
    );
    await tokens.getToken();
    expect(server.requests.at(-1)!.params).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 'subject-1',
      subject_token_type: ACCESS,
      actor_token: 'actor-1',
      actor_token_type: ACCESS,
      requested_token_type: ACCESS,
      audience: 'https://ledger.example.test',
      resource: ['https://a.example.test/', 'https://b.example.test/'],
    });
  });

  it('a signed JWT-bearer assertion: RFC 7523 §3 claims, and a new one for every attempt (a retry too)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const first = server.count + 1;
    server.misbehave((_r, n) => (n === first ? { status: 503 } : undefined));
    const tokens = createTokenProvider(
      base(
        {
          type: 'jwt_bearer',
          sign: { privateKey, kid: 'k1', claims: { scope: 'a b' }, lifetimeSeconds: 120 },
        },
        { clientAuthMethod: 'client_secret_post' },
      ),
    );
    await tokens.getToken();
    server.misbehave(undefined);
    const [a, b] = server.requests.slice(-2).map((r) => String(r.params['assertion']));
    expect(a).not.toBe(b);
    const { payload } = await jwtVerify(b!, publicKey, {
      issuer: 'client-id',
      audience: server.url,
      subject: 'client-id',
    });
    expect(payload['scope']).toBe('a b');
    expect(payload.exp! - payload.iat!).toBe(120);
    expect(decodeProtectedHeader(b!)).toMatchObject({ alg: 'ES384', kid: 'k1', typ: 'JWT' });
    expect(decodeJwt(a!).jti).not.toBe(payload.jti);
    expect(server.requests.at(-1)!.params['grant_type']).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  it('an extension grant: its parameters (an array repeated), and its refresh token is used like any other', async () => {
    const events: TokenEvent[] = [];
    let now = Date.now();
    const tokens = createTokenProvider(
      base(
        {
          type: 'extension',
          grantType: EXT,
          params: { device_id: 'dev-7', features: ['a', 'b'] },
          secretParams: { device_key: () => 'key-7' },
        },
        { now: () => now, onEvent: (e) => events.push(e) },
      ),
    );
    await tokens.getToken();
    expect(server.requests.at(-1)!.params).toMatchObject({
      grant_type: EXT,
      device_id: 'dev-7',
      features: ['a', 'b'],
      device_key: 'key-7',
    });
    now += 3600_000; // expired: the refresh token is used
    await tokens.getToken();
    expect(server.requests.at(-1)!.params['grant_type']).toBe('refresh_token');
    // A refused refresh token: the extension grant again, at once.
    const refreshRequest = server.count + 1;
    server.misbehave((_r, n) => (n === refreshRequest ? { status: 400, body: { error: 'invalid_grant' } } : undefined));
    now += 3600_000;
    await tokens.getToken();
    server.misbehave(undefined);
    expect(server.requests.at(-2)!.params['grant_type']).toBe('refresh_token');
    expect(events.some((e) => e.type === 'refresh_token_dropped')).toBe(true);
    expect(server.requests.at(-1)!.params['grant_type']).toBe(EXT);
  });

  it('token_type N_A is an invalid_response unless a non-access token type was requested', async () => {
    server.misbehave(() => ({ status: 200, body: { access_token: 'x-1', token_type: 'N_A', expires_in: 60 } }));
    try {
      for (const requestedTokenType of [undefined, ACCESS]) {
        const tokens = createTokenProvider(
          base({ type: 'token_exchange', subjectToken: 's', subjectTokenType: ACCESS, requestedTokenType }),
        );
        await expect(tokens.getToken()).rejects.toMatchObject({
          code: 'invalid_response',
          message: expect.stringContaining('N_A'),
        });
      }
      const other = createTokenProvider(base({ type: 'jwt_bearer', assertion: 'a.b.c' }));
      await expect(other.getToken()).rejects.toMatchObject({ code: 'invalid_response' });
    } finally {
      server.misbehave(undefined);
    }
  });

  it('a caller who sees a new subject while a token request for the old one is under way gets a token for the new one', async () => {
    let subject = 'subject-old';
    const tokens = createTokenProvider(
      base({ type: 'token_exchange', subjectToken: () => subject, subjectTokenType: ACCESS }),
    );
    server.configure({ latencyMs: 300 });
    try {
      const before = server.count;
      const old = tokens.getToken();
      await waitFor(() => server.count > before, { what: 'the first exchange' });
      subject = 'subject-new';
      const fresh = await tokens.getToken();
      expect((await old).accessToken).toBe(server.issued.at(-2));
      expect(fresh.accessToken).toBe(server.issued.at(-1));
      expect(server.requests.at(-1)!.params['subject_token']).toBe('subject-new');
      expect(await tokens.getToken()).toBe(fresh);
    } finally {
      server.configure({ latencyMs: 0 });
    }
  });

  it('a rejecting async subject function: the synchronous path says undefined (no unhandled rejection), calls fail typed', async () => {
    const cause = new Error('vault sealed');
    const tokens = createTokenProvider(
      base({ type: 'token_exchange', subjectToken: () => Promise.reject(cause), subjectTokenType: ACCESS }),
    );
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    await expect(tokens.authorizationHeader()).rejects.toMatchObject({ code: 'grant_input', cause });
    const aborted = AbortSignal.abort(new Error('caller gave up'));
    await expect(tokens.getToken({ signal: aborted })).rejects.toThrow('caller gave up');
  });

  it('a failing subject provider fails the exchange with its own typed error', async () => {
    const subject = createTokenProvider({ tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'wrong' });
    const tokens = createTokenProvider(
      base({ type: 'token_exchange', subjectToken: subject, subjectTokenType: ACCESS }),
    );
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'OAuthError', error: 'invalid_client' });
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
  });
});

describe('secrets a grant sends never come back in errors or events, in any form', () => {
  async function everythingShown(grant: Grant): Promise<string> {
    const events: TokenEvent[] = [];
    const tokens = createTokenProvider({
      tokenEndpoint: `${echo.origin}/token`,
      clientId: 'client-id',
      clientSecret: 'client-secret',
      maxRetries: 0,
      grant,
      onEvent: (e) => events.push(e),
    });
    const error = await tokens.getToken().then(
      () => expect.fail('expected a failure'),
      (e: unknown) => e as Error,
    );
    return [
      error.message,
      inspect(error, { depth: Infinity, showHidden: true }),
      JSON.stringify(error),
      inspect(events, { depth: Infinity }),
      inspect(tokens, { showHidden: true }),
      JSON.stringify(tokens),
    ].join('\n');
  }
  const expectNoForm = (text: string, secret: string) => {
    for (const form of secretForms(secret)) expect(text).not.toContain(form);
  };
  const SUBJECT = 'subject token+/= "quoted"';
  const ACTOR = 'actor:token&x=1';

  for (const mode of ['oauth', 'json'] as const) {
    it(`${mode}: token exchange subject and actor tokens, from a string and a function`, async () => {
      echoMode = mode;
      const shown = await everythingShown({
        type: 'token_exchange',
        subjectToken: SUBJECT,
        subjectTokenType: ACCESS,
        actorToken: () => ACTOR,
        actorTokenType: ACCESS,
      });
      expect(shown).toContain('subject_token_type'); // the server's text is there, scrubbed
      expectNoForm(shown, SUBJECT);
      expectNoForm(shown, ACTOR);
    });

    it(`${mode}: JWT-bearer assertions, supplied and signed`, async () => {
      echoMode = mode;
      const supplied = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
      expectNoForm(await everythingShown({ type: 'jwt_bearer', assertion: async () => supplied }), supplied);
      const { privateKey } = generateKeyPairSync('ed25519');
      const shown = await everythingShown({ type: 'jwt_bearer', sign: { privateKey, claims: { sub: 'user-1' } } });
      expect(shown).toContain('assertion=[REDACTED]');
      expect(shown).not.toMatch(/eyJ[\w-]+\.eyJ/);
    });

    it(`${mode}: an extension grant's secret parameters, and not its plain ones`, async () => {
      echoMode = mode;
      const shown = await everythingShown({
        type: 'extension',
        grantType: EXT,
        params: { device_id: 'dev-7' },
        secretParams: { device_key: 'k3y', otp: async () => '424242' },
      });
      expectNoForm(shown, 'k3y');
      expectNoForm(shown, '424242');
      expect(shown).toContain('dev-7'); // not a secret: the scrubber is not a blanket
    });
  }
});
