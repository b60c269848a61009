import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { listen, sendJson, type RunningServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, type TokenEvent, type TokenProviderOptions } from './index.ts';
import { scrub, secretForms } from './scrub.ts';

/** A token endpoint that quotes the request it got in its error text, as some misconfigured gateways do. */
let echo: RunningServer;
let mode: 'oauth' | 'json' | 'padded' = 'oauth';
beforeAll(async () => {
  echo = await listen((req, res, body) => {
    const quoted = `got authorization=${req.headers.authorization ?? ''} body=${body}`;
    if (mode === 'oauth') return sendJson(res, 400, { error: 'invalid_request', error_description: quoted });
    if (mode === 'json') return sendJson(res, 502, { message: quoted });
    // The Basic credentials straddle the 500-character cut of error_description: truncating before scrubbing
    // would leave their first characters.
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'x'.repeat(470) + quoted });
  });
});
afterAll(() => echo.close());

const SECRET = 'p@ss:w/rd+% ~x';
const PASSWORD = 'hunter 2+&=';

/** Everything a user may see of a failure: message, inspect, JSON, events. */
async function everythingShown(options: Partial<TokenProviderOptions>): Promise<string> {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: echo.origin + '/token',
    clientId: 'my client',
    maxRetries: 0,
    onEvent: (e) => events.push(e),
    ...options,
  } as TokenProviderOptions);
  const error = await tokens.getToken().then(
    () => expect.fail('expected a failure'),
    (e: unknown) => e as Error,
  );
  return [
    error.message,
    inspect(error, { depth: Infinity, showHidden: true }),
    JSON.stringify(error),
    inspect(events, { depth: Infinity }),
  ].join('\n');
}

function expectNoForm(text: string, secret: string) {
  for (const form of secretForms(secret)) expect(text).not.toContain(form);
}

describe('secrets echoed by the token endpoint are scrubbed in every form we sent them', () => {
  for (const m of ['oauth', 'json', 'padded'] as const) {
    it(`${m}: HTTP Basic — the base64 credentials, the form-encoded secret and the raw one`, async () => {
      mode = m;
      const shown = await everythingShown({ clientSecret: SECRET });
      expect(shown).toContain('[REDAC');
      expectNoForm(shown, SECRET);
      const credentials = Buffer.from('my+client:' + new URLSearchParams([['', SECRET]]).toString().slice(1)).toString(
        'base64',
      );
      expect(shown).not.toContain('Basic ' + credentials.slice(0, 4));
    });

    it(`${m}: client_secret_post and the password grant — form-encoded secret and password`, async () => {
      mode = m;
      const shown = await everythingShown({
        clientSecret: SECRET,
        clientAuthMethod: 'client_secret_post',
        grant: { type: 'password', username: 'alice', password: PASSWORD },
      });
      expectNoForm(shown, SECRET);
      expectNoForm(shown, PASSWORD);
      if (m !== 'padded') expect(shown).toContain('alice'); // not a secret: the scrubber is not a blanket
    });
  }

  it('the private_key_jwt assertion', async () => {
    mode = 'oauth';
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const shown = await everythingShown({ clientAuthMethod: 'private_key_jwt', privateKey });
    expect(shown).toContain('client_assertion=[REDACTED]');
    expect(shown).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });

  it('a secret shorter than four characters', async () => {
    mode = 'json';
    const shown = await everythingShown({ clientSecret: 'q7', clientAuthMethod: 'client_secret_post' });
    expect(shown).not.toContain('client_secret=q7');
  });
});

describe('scrub()', () => {
  it('replaces the longest form first, so no part of a longer secret survives', () => {
    expect(scrub('a=abcdef b=abc', ['abc', 'abcdef'])).toBe('a=[REDACTED] b=[REDACTED]');
  });

  it('JSON-escaped and %20-encoded forms', () => {
    const secret = 'a"b c';
    expect(scrub(JSON.stringify({ s: secret }), [secret])).toBe('{"s":"[REDACTED]"}');
    expect(scrub('s=a%22b%20c', [secret])).toBe('s=[REDACTED]');
  });
});
