// Debug output through an adapter: every decision about each request is a line, and no line holds a secret or a
// token — against the real token endpoint, API and a second origin, with fetch following redirects itself.
import { startAdapterServers, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createTokenProvider, withTokens } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());

/** Every form a value could take in a line: as is, form- and percent-encoded, base64 (alone and as Basic's pair). */
function forms(values: readonly string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    out.add(value);
    out.add(encodeURIComponent(value));
    out.add(new URLSearchParams([['', value]]).toString().slice(1));
    out.add(Buffer.from(value).toString('base64'));
    out.add(Buffer.from(value).toString('base64url'));
  }
  out.add(Buffer.from('client-id:client-secret').toString('base64'));
  return [...out];
}

it('withTokens with debug on: sent, other origin, caller header, redirect away, 401 retry, token endpoint echo — no secret', async () => {
  const lines: string[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    debug: (line) => lines.push(line),
  });
  const apiFetch = withTokens(tokens, { origins: [api.origin] });

  expect((await apiFetch(`${api.origin}/orders?session=abc`)).status).toBe(200);
  expect((await apiFetch(`${recorder.origin}/elsewhere`)).status).toBe(200);
  expect((await apiFetch(`${api.origin}/mine`, { headers: { authorization: 'Bearer callers-own' } })).status).toBe(401);
  const away = `${api.origin}/redirect?to=${encodeURIComponent(`${recorder.origin}/landing`)}`;
  expect((await apiFetch(away)).status).toBe(200);
  tokenServer.revoke((await tokens.getToken()).accessToken);
  expect((await apiFetch(`${api.origin}/after-revocation`)).status).toBe(200);
  // A new provider: the token endpoint refuses it and quotes the Basic header and the body it got.
  const refused = createTokenProvider({
    tokenEndpoint: tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 0,
    debug: (line) => lines.push(line),
  });
  tokenServer.misbehave((request) => ({
    status: 400,
    body: { error: 'invalid_client', error_description: `got ${request.headers.authorization} ${request.raw}` },
  }));
  try {
    await expect(withTokens(refused, { origins: [api.origin] })(`${api.origin}/no-token`)).rejects.toThrow(
      /invalid_client/,
    );
  } finally {
    tokenServer.misbehave(undefined);
  }

  const text = lines.join('\n');
  expect(text).toMatch(/request to http:\/\/127\.0\.0\.1:\d+\/orders: token sent/);
  expect(text).not.toMatch(/session=abc/);
  expect(text).toMatch(/request to http:\/\/127\.0\.0\.1:\d+\/elsewhere: no token \(its origin is neither/);
  expect(text).toMatch(/request to http:\/\/127\.0\.0\.1:\d+\/mine: no token \(the caller set their own/);
  expect(text).toMatch(/redirect to http:\/\/127\.0\.0\.1:\d+\/landing: token removed/);
  expect(text).toMatch(/API answered 401 to our token: invalidated it; sending the request again with a new token/);
  expect(text).toMatch(/token request #\d+ failed after 1 attempt, \d+ ms: oauth_error/);
  expect(text).toMatch(/\[REDACTED\]/);
  const secrets = forms(['client-secret', 'callers-own', ...tokenServer.issued]);
  for (const line of lines) for (const secret of secrets) expect(line, line).not.toContain(secret);
});
