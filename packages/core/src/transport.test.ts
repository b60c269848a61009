import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, sendJson, type RunningServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadlineIn, sendWithRetries, type TransportOptions } from './transport.ts';

// Timing assertions are upper bounds only, and generous: a busy 2-core machine stretches wall-clock time.
const T = { timeout: 60_000 };

let server: RunningServer;
let requests = 0;
/** What the server does with request `n` (1-based); undefined: never answers. */
let behaviour: ((res: ServerResponse, n: number, req: IncomingMessage) => void) | undefined;

beforeAll(async () => {
  server = await listen((req, res) => {
    requests++;
    behaviour?.(res, requests, req);
  });
}, 60_000);
afterAll(() => server.close());
beforeEach(() => {
  requests = 0;
  behaviour = undefined;
});

function transport(extra: Partial<TransportOptions> = {}): TransportOptions & { retries: { delayMs: number }[] } {
  const retries: { delayMs: number }[] = [];
  return {
    fetch: (input, init) => fetch(input, init),
    timeoutMs: 300,
    maxRetries: 2,
    maxResponseBytes: 1024 * 1024,
    onRetry: (info) => retries.push(info),
    random: () => 1,
    retries,
    ...extra,
  };
}

const post = () => ({
  method: 'POST' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials',
});
const url = () => `${server.origin}/token?tenant=secret-in-query`;

async function timed<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('sendWithRetries: timeoutMs is the budget of the whole call', () => {
  it('an endpoint that never answers: one attempt, aborted at the budget, not retried', T, async () => {
    const { error, ms } = await timed(sendWithRetries(url(), post, transport({ timeoutMs: 300, maxRetries: 2 })));
    expect(ms).toBeLessThan(1500);
    expect(error).toMatchObject({ name: 'TokenEndpointError', code: 'timeout' });
    expect((error as Error).message).toBe(
      `no token from ${server.origin}/token within 300 ms: 1 attempt, last: no answer`,
    );
    expect(requests).toBe(1);
  });

  it('503 with Retry-After: 5 and a 300 ms budget fails at once instead of waiting 5 s', T, async () => {
    behaviour = (res) => sendJson(res, 503, { message: 'down' }, { 'retry-after': '5' });
    const options = transport({ timeoutMs: 300, maxRetries: 2 });
    const { error, ms } = await timed(sendWithRetries(url(), post, options));
    expect(ms).toBeLessThan(1500);
    expect(error).toMatchObject({ code: 'timeout', status: 503 });
    expect((error as Error).message).toBe(
      `no token from ${server.origin}/token within 300 ms: 1 attempt, last: HTTP 503 with Retry-After 5 s, which would end past the deadline`,
    );
    expect(options.retries).toEqual([]);
    expect(requests).toBe(1);
  });

  it('backoff waits never run past the budget: the retries made fit in it, then it gives up', T, async () => {
    behaviour = (res) => sendJson(res, 503, { message: 'down' });
    const options = transport({ timeoutMs: 1000, maxRetries: 20 }); // backoff with random() = 1: 100, 200, 400, 800 ms ...
    const { error, ms } = await timed(sendWithRetries(url(), post, options));
    expect(ms).toBeLessThan(5000);
    expect(error).toMatchObject({ code: 'timeout', status: 503 });
    expect((error as Error).message).toMatch(
      new RegExp(`^no token from ${server.origin}/token within 1000 ms: \\d+ attempts, last: HTTP 503$`),
    );
    expect(options.retries.reduce((sum, r) => sum + r.delayMs, 0)).toBeLessThan(1000);
    expect(requests).toBe(options.retries.length + 1);
  });

  it('a deadline passed in wins over timeoutMs and is shared: a spent one sends nothing', T, async () => {
    const shared = deadlineIn(300);
    const { error, ms } = await timed(sendWithRetries(url(), post, transport({ timeoutMs: 60_000 }), shared));
    expect(ms).toBeLessThan(1500);
    expect((error as Error).message).toMatch(/within 300 ms: 1 attempt, last: no answer$/);
    // The same deadline, now spent, for a second request of the same operation.
    const again = await timed(sendWithRetries(url(), post, transport({ timeoutMs: 60_000 }), shared));
    expect(again.error).toMatchObject({ code: 'timeout' });
    expect((again.error as Error).message).toMatch(/within 300 ms: the time ran out before the first attempt$/);
    expect(requests).toBe(1);
  });

  it('an answer within the budget is returned; a retried 503 still succeeds', T, async () => {
    behaviour = (res, n) => (n === 1 ? sendJson(res, 503, {}) : sendJson(res, 200, { ok: true }));
    const options = transport({ timeoutMs: 10_000 });
    const answer = await sendWithRetries(url(), post, options);
    expect(answer.status).toBe(200);
    expect(options.retries).toHaveLength(1);
  });
});

describe('sendWithRetries: Retry-After as an HTTP date uses the now seam', () => {
  it('the wait is the date minus now(), not minus the real clock', T, async () => {
    const date = 'Wed, 21 Oct 2015 07:28:01 GMT';
    behaviour = (res, n) =>
      n === 1 ? sendJson(res, 429, {}, { 'retry-after': date }) : sendJson(res, 200, { ok: true });
    const options = transport({ timeoutMs: 10_000, now: () => Date.parse(date) - 200 });
    const answer = await sendWithRetries(url(), post, options);
    expect(answer.status).toBe(200);
    expect(options.retries).toEqual([{ attempt: 1, delayMs: 200, reason: 'http_status', status: 429 }]);
  });
});
