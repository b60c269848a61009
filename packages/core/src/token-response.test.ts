import type { ServerResponse } from 'node:http';
import { listen, sendJson, type RunningServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTokenResponse, readTokenAnswer, type ParsedToken, type TokenAnswerOptions } from './token-response.ts';
import { sendWithRetries, type HttpAnswer } from './transport.ts';

const SECRET = 'S3cr3t-client-secret-value';
/** A password JSON has to escape: found in a JSON body only once the body is decoded. */
const QUOTED = 'pa"ss\\word-with-quote';
const scrub = (text: string) => text.split(SECRET).join('[REDACTED]').split(QUOTED).join('[REDACTED]');
const DEFAULT_SECONDS = 300;
const T = { timeout: 60_000 };

let server: RunningServer;
let respond: (res: ServerResponse) => void = (res) => res.end();
beforeAll(async () => {
  server = await listen((_req, res) => respond(res));
}, 60_000);
afterAll(() => server.close());

/** One real round trip: the server answers with `handler`, the answer is read as the provider reads it. */
async function exchange(
  handler: (res: ServerResponse) => void,
): Promise<{ answer: HttpAnswer; sentAt: number; receivedAt: number }> {
  respond = handler;
  const sentAt = Date.now();
  const answer = await sendWithRetries(
    `${server.origin}/token`,
    () => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }),
    {
      fetch: (input, init) => fetch(input, init),
      timeoutMs: 10_000,
      maxRetries: 0,
      maxResponseBytes: 1024 * 1024,
      onRetry: undefined,
      random: Math.random,
    },
  );
  return { answer, sentAt, receivedAt: Date.now() };
}

async function read(handler: (res: ServerResponse) => void, options: TokenAnswerOptions = {}) {
  const { answer, sentAt, receivedAt } = await exchange(handler);
  let parsed: ParsedToken | undefined;
  let error: unknown;
  try {
    parsed = readTokenAnswer(answer, sentAt, DEFAULT_SECONDS, scrub, { receivedAt, ...options });
  } catch (e) {
    error = e;
  }
  return { parsed, error, sentAt, receivedAt };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: { exp?: number; iat?: number }) =>
  `${b64({ alg: 'none' })}.${b64({ sub: 'svc', ...claims })}.c2ln`;
const seconds = (ms: number) => Math.floor(ms / 1000);

describe('expires_in: 0 is taken as absent', () => {
  it('an opaque token gets the default lifetime, a JWT its exp; a negative value stays an error', () => {
    const sentAt = Date.now();
    for (const zero of [0, '0']) {
      expect(
        parseTokenResponse({ access_token: 'opaque', token_type: 'Bearer', expires_in: zero }, sentAt, DEFAULT_SECONDS)
          .expiresAt,
      ).toBe(sentAt + DEFAULT_SECONDS * 1000);
      const token = jwt({ exp: seconds(sentAt) + 120 });
      expect(
        parseTokenResponse({ access_token: token, token_type: 'Bearer', expires_in: zero }, sentAt, DEFAULT_SECONDS)
          .expiresAt,
      ).toBe((seconds(sentAt) + 120) * 1000);
    }
    expect(() =>
      parseTokenResponse({ access_token: 'opaque', token_type: 'Bearer', expires_in: -5 }, sentAt, DEFAULT_SECONDS),
    ).toThrow(/expires_in -5; it must be positive/);
  });
});

describe('a missing token_type', () => {
  it('is an error that names the option to set', T, async () => {
    const { error } = await read((res) => sendJson(res, 200, { access_token: 'abc', expires_in: 60 }));
    expect(error).toMatchObject({ code: 'invalid_response', status: 200 });
    expect((error as Error).message).toBe(
      "token response has no token_type (to take such answers as Bearer, set the option defaultTokenType: 'Bearer')",
    );
  });

  it(
    "with defaultTokenType: 'Bearer', a missing or empty one is taken as Bearer; another type is still refused",
    T,
    async () => {
      for (const body of [
        { access_token: 'abc', expires_in: 60 },
        { access_token: 'abc', token_type: '', expires_in: 60 },
      ]) {
        const { parsed } = await read((res) => sendJson(res, 200, body), { defaultTokenType: 'Bearer' });
        expect(parsed).toMatchObject({ accessToken: 'abc', tokenType: 'Bearer' });
      }
      const { error } = await read((res) => sendJson(res, 200, { access_token: 'abc', token_type: 'mac' }), {
        defaultTokenType: 'Bearer',
      });
      expect((error as Error).message).toMatch(/only Bearer/);
    },
  );
});

describe('error answers that are not OAuth errors', () => {
  it('a JSON body is quoted, short, in the message', T, async () => {
    const { error } = await read((res) => sendJson(res, 401, { message: 'Unauthorized', code: 401 }));
    expect(error).toMatchObject({ name: 'TokenEndpointError', code: 'http_status', status: 401 });
    expect((error as Error).message).toBe(
      'token endpoint answered HTTP 401 (application/json): {"message":"Unauthorized","code":401}',
    );

    const fault = {
      fault: { faultstring: 'Internal error in the policy layer '.repeat(20), detail: { errorcode: 'steps.x' } },
    };
    const long = await read((res) => sendJson(res, 500, fault, { 'retry-after': '1' }));
    const message = (long.error as Error).message;
    expect(long.error).toMatchObject({ code: 'http_status', status: 500 });
    expect(message).toMatch(
      /^token endpoint answered HTTP 500 \(application\/json, Retry-After 1\): \{"fault":\{"faultstring":"Internal error/,
    );
    const excerpt = message.slice(message.indexOf('): ') + 3);
    expect(excerpt.length).toBeLessThanOrEqual(200);
    expect(excerpt.endsWith('...')).toBe(true);
  });

  it(
    'the excerpt is scrubbed whole before it is cut: no piece of a secret at the cut, none escaped by JSON',
    T,
    async () => {
      // The cut at 200 characters falls inside the secret.
      const prefix = '{"detail":"';
      const body = { detail: `${'x'.repeat(200 - 3 - prefix.length - 10)}${SECRET} was rejected`, password: QUOTED };
      const { error } = await read((res) => sendJson(res, 401, body));
      const message = (error as Error).message;
      expect(message).toContain('[REDACTED]'.slice(0, 10));
      expect(message).not.toContain(SECRET.slice(0, 6));
      const { error: quoted } = await read((res) => sendJson(res, 403, { password: QUOTED }));
      expect((quoted as Error).message).toBe(
        'token endpoint answered HTTP 403 (application/json): {"password":"[REDACTED]"}',
      );
      expect((quoted as Error).message).not.toContain(JSON.stringify(QUOTED).slice(1, -1));
    },
  );

  it('OAuth error fields are scrubbed whole before they are cut', T, async () => {
    const description = `${'x'.repeat(490)}${SECRET}`; // 500 characters in: the secret's first 10
    const { error } = await read((res) =>
      sendJson(res, 400, { error: 'invalid_client', error_description: description }),
    );
    expect(error).toMatchObject({
      code: 'oauth_error',
      error: 'invalid_client',
      errorDescription: `${'x'.repeat(490)}[REDACTED]`,
    });
    expect((error as Error).message).not.toContain(SECRET.slice(0, 6));
  });

  it(
    'an empty 400 (Glewlwyd, for a dead refresh token) is an http_status error with status 400; HTML is not quoted',
    T,
    async () => {
      const empty = await read((res) => res.writeHead(400).end());
      expect(empty.error).toMatchObject({ name: 'TokenEndpointError', code: 'http_status', status: 400 });
      expect((empty.error as Error).message).toBe('token endpoint answered HTTP 400 (no content-type)');
      const html = await read((res) =>
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'),
      );
      expect((html.error as Error).message).toBe('token endpoint answered HTTP 502 (text/html)');
    },
  );
});

describe('a JWT without expires_in is never kept past its exp', () => {
  it('a shared, long-issued JWT (iat 1 h ago, exp in 60 s) expires within 60 s', T, async () => {
    const now = seconds(Date.now());
    const { parsed, receivedAt } = await read((res) =>
      sendJson(res, 200, { access_token: jwt({ iat: now - 3600, exp: now + 60 }), token_type: 'Bearer' }),
    );
    expect(parsed!.expiresAt).toBeLessThanOrEqual(receivedAt + 60_000);
    expect(parsed!.expiresAt).toBeGreaterThan(receivedAt + 50_000);
  });

  it(
    'a server clock 1 h ahead: exp = its now + 120 s expires ~120 s from ours (the Date header translates it)',
    T,
    async () => {
      const ahead = 3600_000;
      for (const iat of [undefined, -600]) {
        const { parsed, receivedAt } = await read((res) => {
          const serverNow = Date.now() + ahead;
          const exp = seconds(serverNow) + 120;
          res.setHeader('date', new Date(serverNow).toUTCString());
          sendJson(res, 200, {
            access_token: jwt(iat === undefined ? { exp } : { exp, iat: exp - 120 + iat }),
            token_type: 'Bearer',
          });
        });
        expect(parsed!.expiresAt).toBeLessThanOrEqual(receivedAt + 120_000);
        expect(parsed!.expiresAt).toBeGreaterThan(receivedAt + 110_000);
      }
    },
  );

  it(
    'a server clock 1 h ahead: a JWT its clock says is expired is refused, though ours would still accept it',
    T,
    async () => {
      const { error } = await read((res) => {
        const serverNow = Date.now() + 3600_000;
        const exp = seconds(serverNow) - 10;
        res.setHeader('date', new Date(serverNow).toUTCString());
        sendJson(res, 200, { access_token: jwt({ iat: exp - 7200, exp }), token_type: 'Bearer' });
      });
      expect(error).toMatchObject({
        code: 'invalid_response',
        message: 'token response has no expires_in and its JWT has already expired',
      });
    },
  );

  it('no Date header: exp is read on our clock, and iat only shortens', T, async () => {
    const now = seconds(Date.now());
    const { parsed } = await read((res) => {
      res.sendDate = false;
      sendJson(res, 200, { access_token: jwt({ iat: now - 3600, exp: now + 60 }), token_type: 'Bearer' });
    });
    expect(parsed!.expiresAt).toBe((now + 60) * 1000);
    const { parsed: short, sentAt } = await read((res) => {
      res.sendDate = false;
      sendJson(res, 200, { access_token: jwt({ iat: now, exp: now + 3600 }), token_type: 'Bearer', expires_in: 0 });
    });
    expect(short!.expiresAt).toBeLessThanOrEqual(sentAt + 3600_000);
  });
});

describe('refresh_expires_in', () => {
  it('gives refreshExpiresAt from sentAt; 0 (no limit) and malformed values give none', () => {
    const sentAt = Date.now();
    const parse = (value: unknown) =>
      parseTokenResponse(
        { access_token: 'a', token_type: 'Bearer', expires_in: 60, refresh_token: 'r', refresh_expires_in: value },
        sentAt,
        DEFAULT_SECONDS,
      ).refreshExpiresAt;
    expect(parse(1800)).toBe(sentAt + 1_800_000);
    expect(parse('1800')).toBe(sentAt + 1_800_000);
    for (const none of [0, '0', -5, 'soon', null, undefined, {}, Number.NaN, 1e308])
      expect(parse(none)).toBeUndefined();
  });
});
