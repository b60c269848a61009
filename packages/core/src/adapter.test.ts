import { inspect } from 'node:util';
import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import {
  concealValues,
  createTokenClient,
  followRedirects,
  isRedirect,
  isReplayableBody,
  originCheck,
  sendFollowingRedirects,
  type HopInit,
} from './adapter.ts';
import { ConfigurationError, createTokenProvider, type TokenProvider } from './index.ts';

let server: TokenServer;
let tokens: TokenProvider;
beforeAll(async () => {
  server = await startTokenServer();
  tokens = createTokenProvider({ tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' });
});
afterAll(() => server.close());

describe('the origin check', () => {
  const allowed = new Set(['https://api.example.com', 'http://127.0.0.1:8080']);
  const table: [string, string | undefined][] = [
    ['https://api.example.com', 'https://api.example.com'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['https://api.example.com?x', 'https://api.example.com'],
    ['https://api.example.com#x', 'https://api.example.com'],
    ['https://api.example.com:443/p', 'https://api.example.com'],
    ['HTTPS://API.EXAMPLE.COM/p', 'https://api.example.com'],
    ['https://api.example.comx/p', undefined],
    ['https://api.example.com.evil.com/', undefined],
    ['https://api.example.com@evil.com/', undefined],
    ['https://api.example.com:8443/', undefined],
    ['http://api.example.com/', undefined],
    ['https://evil.com/https://api.example.com/', undefined],
    ['http://127.0.0.1:8080/x', 'http://127.0.0.1:8080'],
    ['http://127.0.0.1:80800/x', undefined],
    ['http://127.0.0.1:8080\\@evil.com/', 'http://127.0.0.1:8080'],
    ['not a url', undefined],
  ];
  const fast = originCheck(allowed);
  const plain = originCheck(allowed, false);
  for (const [url, expected] of table) {
    it(`${url} -> ${expected ?? 'no token'} (fast path and plain parse agree)`, () => {
      expect(fast(url)).toBe(expected);
      expect(plain(url)).toBe(expected);
    });
  }
});

describe('createTokenClient', () => {
  it('needs a base URL or origins, and only https (or loopback) ones', () => {
    expect(() => createTokenClient(tokens, {})).toThrow(ConfigurationError);
    expect(() => createTokenClient(tokens, { origins: ['http://api.example.com'] })).toThrow(/not HTTPS/);
    expect(() => createTokenClient({} as TokenProvider, { origins: ['https://a.example.com'] })).toThrow(/tokens/);
  });
});

describe('which Authorization values are ours', () => {
  it('the last 8 values put on, in the order first put on; a value put on again stays', () => {
    // A provider whose cached token is whatever the test says: the client remembers what it put on.
    let current = 'Bearer t0';
    const provider = {
      ...tokens,
      cachedAuthorizationHeader: () => current,
      authorizationHeader: async () => current,
      invalidate: async () => false,
    } as TokenProvider;
    const c = createTokenClient(provider, { origins: ['https://api.example.com'] });
    const put = (value: string) => {
      current = value;
      expect(c.start().headerSync('https://api.example.com/x')).toBe(value);
    };
    for (const n of [0, 0, 1, 0, 2, 3, 4, 5, 6, 7]) put(`Bearer t${n}`);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => c.isOurs(`Bearer t${n}`))).toEqual(Array(8).fill(true));
    put('Bearer t8'); // the ninth: t0, put on first, is forgotten although it was put on again since
    put('Bearer t8');
    expect(c.isOurs('Bearer t0')).toBe(false);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => c.isOurs(`Bearer t${n}`))).toEqual(Array(8).fill(true));
    put('Bearer t0'); // back again: ours again, and t1 goes
    expect(c.isOurs('Bearer t0')).toBe(true);
    expect(c.isOurs('Bearer t1')).toBe(false);
    expect(c.isOurs('Bearer never')).toBe(false);
  });
});

describe('one request', () => {
  const client = () =>
    createTokenClient(tokens, { baseUrl: 'https://api.example.com', origins: ['https://files.example.com'] });

  it('gets the token for an allowed URL, none for another origin or over the caller header', async () => {
    const c = client();
    expect(await c.start().header('https://api.example.com/x')).toMatch(/^Bearer /);
    expect(await c.start().header('https://evil.example.com/x')).toBeUndefined();
    expect(c.start({ callerAuthorization: true }).headerSync('https://api.example.com/x')).toBeNull();
  });

  it('a redirect hop keeps it only to allowed origins; once lost it never comes back', async () => {
    const request = client().start();
    await request.header('https://api.example.com/a');
    expect(request.redirect('https://files.example.com/b')).toBe(true);
    expect(request.redirect('https://evil.example.com/c')).toBe(false);
    expect(request.redirect('https://api.example.com/d')).toBe(false);
    expect(request.headerSync('https://api.example.com/d')).toBeNull();
  });

  it('a 401 earns one retry only when the answering hop carried our token', async () => {
    const c = client();
    const reached = c.start();
    await reached.header('https://api.example.com/a');
    reached.answeredBy('https://evil.example.com/x'); // fetch followed a cross-origin redirect and dropped it
    expect(await reached.retryAfter(401)).toBe(false);

    const before = server.count;
    const request = c.start();
    await request.header('https://api.example.com/a');
    expect(await request.retryAfter(401)).toBe(true);
    expect(server.count).toBe(before); // invalidated; the next header() fetches
    expect(await request.header('https://api.example.com/a')).toMatch(/^Bearer /);
    expect(server.count).toBe(before + 1);
    expect(await request.retryAfter(401)).toBe(false); // never twice
  });

  it('a hop the client followed with our header removed (wentWithout): its 401 is not ours, and it never comes back', async () => {
    const request = client().start();
    await request.header('https://api.example.com/a');
    request.wentWithout('https://api.example.com/b'); // same origin, but the client stripped our header on the hop
    expect(request.mayRetry(401)).toBe(false);
    expect(await request.retryAfter(401)).toBe(false);
    expect(request.redirect('https://api.example.com/c')).toBe(false);
    expect(request.headerSync('https://api.example.com/c')).toBeNull();
  });

  it('an attempt that goes without the token (a later hop to another origin) makes its 401 not ours', async () => {
    const request = client().start();
    await request.header('https://api.example.com/a');
    expect(request.headerSync('https://evil.example.com/rewritten')).toBeNull();
    expect(await request.retryAfter(401)).toBe(false);
  });

  it('an already aborted caller starts no token request', async () => {
    const own = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const before = server.count;
    await expect(own.getToken({ signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(server.count).toBe(before);
  });

  it('a body that cannot be sent again is not retried, but the token is still dropped', async () => {
    // A provider of its own: one that just replaced a rejected token keeps the next for a while (see invalidate).
    const own = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const c = createTokenClient(own, { baseUrl: 'https://api.example.com' });
    const request = c.start({ replayable: false });
    const sent = await request.header('https://api.example.com/a');
    expect(await request.retryAfter(401)).toBe(false);
    expect(own.cachedAuthorizationHeader()).not.toBe(sent);
  });
});

describe('isReplayableBody', () => {
  async function* chunks() {
    yield 'a';
  }
  function* parts() {
    yield 'a';
  }
  it.each([
    ['no body', undefined, true],
    ['null', null, true],
    ['a string', 'a=1', true],
    ['a Buffer', Buffer.from('a'), true],
    ['an ArrayBuffer', new ArrayBuffer(2), true],
    ['a Blob', new Blob(['a']), true],
    ['FormData', new FormData(), true],
    ['URLSearchParams', new URLSearchParams('a=1'), true],
    ['a plain object (JSON)', { amount: 1 }, true],
    ['an array (JSON)', [1, 2], true],
    ['a Node stream', Readable.from(['a']), false],
    ['a web ReadableStream', new ReadableStream(), false],
    ['an async iterable', chunks(), false],
    ['an iterator', parts(), false],
  ])('%s: %s', (_name, body, expected) => {
    expect(isReplayableBody(body)).toBe(expected);
  });
});

describe('concealValues', () => {
  it('removes our values from raw header strings, header maps and nested objects, calling no getter', () => {
    const value = 'Bearer at-secret-123';
    let getterCalled = false;
    const error = Object.assign(new Error('failed'), {
      request: { _header: `GET / HTTP/1.1\r\nAuthorization: ${value}\r\n\r\n`, res: { req: null as unknown } },
      config: { headers: { Authorization: value, Accept: 'application/json' } },
      fetchHeaders: new Headers({ authorization: value }),
      frozen: Object.defineProperty({}, 'raw', {
        value: `token at-secret-123`,
        writable: false,
        configurable: true,
        enumerable: false,
      }),
    });
    Object.defineProperty(error, 'lazy', {
      get() {
        getterCalled = true;
        return 'nothing secret';
      },
    });
    error.request.res.req = error.request; // circular, as Node's are
    concealValues(error, [value]);
    const shown = inspect(error, { depth: Infinity, showHidden: true, getters: false });
    expect(shown).not.toContain('at-secret-123');
    expect(error.fetchHeaders.has('authorization')).toBe(false);
    expect(getterCalled).toBe(false);
  });
});

describe('sendFollowingRedirects and followRedirects', () => {
  const hops: Record<string, string> = {
    'https://api.example.com/start': 'https://api.example.com/same',
    'https://api.example.com/same': 'https://other.example.com/away',
  };
  const start = async () => {
    const c = createTokenClient(tokens, { baseUrl: 'https://api.example.com' });
    const request = c.start();
    const ours = (await request.header('https://api.example.com/start'))!;
    const seen: [string, Record<string, string>][] = [];
    const send = async (url: string, init: HopInit) => {
      seen.push([url, init.headers]);
      const location = hops[url];
      return {
        status: location === undefined ? 200 : 302,
        headers: { get: (name: string) => (name === 'location' ? (location ?? null) : null) },
      };
    };
    const init: HopInit = {
      method: 'GET',
      headers: { authorization: ours, cookie: 'sid=1', accept: 'x' },
      redirect: 'manual',
    };
    const expected = [
      ['https://api.example.com/start', ours, 'sid=1'],
      ['https://api.example.com/same', ours, 'sid=1'],
      ['https://other.example.com/away', undefined, undefined],
    ];
    const hopsSeen = () => seen.map(([url, headers]) => [url, headers['authorization'], headers['cookie']]);
    return { request, send, init, expected, hopsSeen };
  };

  it("keeps our token only on allowed hops, the caller's cookies only on the same origin", async () => {
    const { request, send, init, expected, hopsSeen } = await start();
    const final = await sendFollowingRedirects(send, 'https://api.example.com/start', init, request, true);
    expect(final.status).toBe(200);
    expect(hopsSeen()).toEqual(expected);
  });

  it('followRedirects, after a first hop the adapter sent itself, follows by the same rules', async () => {
    const { request, send, init, expected, hopsSeen } = await start();
    const url = 'https://api.example.com/start';
    const first = await send(url, init);
    expect(isRedirect(first.status)).toBe(true);
    const final = await followRedirects(send, url, init, first, request, true);
    expect(final.status).toBe(200);
    expect(hopsSeen()).toEqual(expected);
  });

  it('followRedirects resolves to an answer that is not a redirect, sending nothing', async () => {
    const { request, send, init, hopsSeen } = await start();
    const answer = { status: 200, headers: { get: () => null } };
    expect(await followRedirects(send, 'https://api.example.com/x', init, answer, request, true)).toBe(answer);
    expect(hopsSeen()).toEqual([]);
  });

  it('isRedirect is true for the statuses followed: 301, 302, 303, 307, 308', () => {
    const followed = [];
    for (let status = 100; status < 600; status++) if (isRedirect(status)) followed.push(status);
    expect(followed).toEqual([301, 302, 303, 307, 308]);
  });
});
