import { setTimeout as sleep } from 'node:timers/promises';
import { TokenEndpointError } from './errors.ts';

/** A `fetch`-compatible function (the global `fetch` by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  fetch: FetchLike;
  /** The budget of a whole call when no {@link Deadline} is given: every attempt, backoff and Retry-After wait. */
  timeoutMs: number;
  maxRetries: number;
  maxResponseBytes: number;
  onRetry: ((info: { attempt: number; delayMs: number; reason: string; status?: number }) => void) | undefined;
  random: () => number;
  /** Wall clock, epoch ms, for an HTTP-date Retry-After (a seam for tests). Default `Date.now`. */
  now?: (() => number) | undefined;
  /** What the caller is waiting for, in the timeout message: `no token from ...`. Default `token`. */
  subject?: string | undefined;
  /**
   * Observes each HTTP attempt (events, spans): called as it is sent with the URL described (origin and path), and
   * returns what is called with its answer's status, or with the error that left it without one.
   */
  onAttempt?: ((where: string, attempt: number, method: 'GET' | 'POST') => AttemptEnd) | undefined;
}

/** The end of an observed attempt: the answer's status, or undefined and the error. */
export type AttemptEnd = (status: number | undefined, error?: unknown) => void;

/**
 * When a whole operation must be done by. `at` is on the `performance.now()` clock: real
 * monotonic time, so a wall-clock jump (or a test's `now` seam) neither stretches nor cuts it.
 */
export interface Deadline {
  readonly at: number;
  /** The budget it was made with, for messages. */
  readonly budgetMs: number;
}

/** A deadline `ms` from now; share one across every request of an operation. */
export function deadlineIn(ms: number): Deadline {
  return { at: performance.now() + ms, budgetMs: ms };
}

export interface OutgoingRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
}

/** The longest Retry-After we wait for; a longer one fails the request at once. */
export const MAX_RETRY_AFTER_MS = 10_000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 2_000;

/** Where a request went, for messages: origin and path, never the query. */
export function describeUrl(url: string): string {
  try {
    const { origin, pathname } = new URL(url);
    return origin + pathname;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Sends a request, retrying network errors, 5xx and 429 with exponential
 * backoff and jitter (Retry-After honoured up to {@link MAX_RETRY_AFTER_MS}).
 * `build` runs once per attempt, so a signed client assertion is fresh on every
 * try. Any other answer, and the last retryable one, is returned as is.
 *
 * Everything happens by `deadline` (default: `options.timeoutMs` from this call):
 * each attempt is aborted there, and a wait that would end past it is not
 * started. Then it throws {@link TokenEndpointError} `timeout`, naming the
 * budget, the attempts made and the last failure.
 */
export async function sendWithRetries(
  url: string,
  build: () => OutgoingRequest | Promise<OutgoingRequest>,
  options: TransportOptions,
  deadline: Deadline = deadlineIn(options.timeoutMs),
): Promise<HttpAnswer> {
  const where = describeUrl(url);
  /** What went wrong last, for the timeout message: never a secret, never a query string. */
  let last = '';
  const expired = (attempts: number, extra?: { cause?: unknown; status?: number | undefined }) => {
    const what =
      attempts === 0
        ? 'the time ran out before the first attempt'
        : `${attempts} attempt${attempts === 1 ? '' : 's'}, last: ${last}`;
    const subject = options.subject ?? 'token';
    return new TokenEndpointError(
      'timeout',
      `no ${subject} from ${where} within ${deadline.budgetMs} ms: ${what}`,
      extra,
    );
  };
  const left = () => deadline.at - performance.now();
  for (let attempt = 0; ; attempt++) {
    const retriesLeft = attempt < options.maxRetries;
    let answer: HttpAnswer;
    try {
      const request = await build();
      const remaining = left();
      if (remaining <= 0) throw expired(attempt);
      // Aborted only at the deadline: after a timed-out attempt there is no time left to retry.
      const end = options.onAttempt?.(where, attempt + 1, request.method);
      answer = await sendOnce(url, request, options, remaining, where, (cause) => {
        last = 'no answer';
        return expired(attempt + 1, { cause });
      }).catch((error: unknown) => {
        end?.(undefined, error);
        throw error;
      });
      end?.(answer.status);
    } catch (error) {
      if (!retriesLeft || !(error instanceof TokenEndpointError) || error.code !== 'network') throw error;
      last = `network error (${networkReason(error.cause)})`;
      const delayMs = backoff(attempt, options.random);
      if (delayMs >= left()) throw expired(attempt + 1, { cause: error });
      options.onRetry?.({ attempt: attempt + 1, delayMs, reason: error.code });
      await sleep(delayMs);
      continue;
    }
    const retryable = answer.status >= 500 || answer.status === 429;
    if (!retryable || !retriesLeft) return answer;
    const retryAfter = parseRetryAfter(answer.headers.get('retry-after'), (options.now ?? Date.now)());
    if (retryAfter !== undefined && retryAfter > MAX_RETRY_AFTER_MS) return answer;
    const delayMs = retryAfter ?? backoff(attempt, options.random);
    last = `HTTP ${answer.status}`;
    if (delayMs >= left()) {
      if (retryAfter !== undefined) {
        last += ` with Retry-After ${Math.ceil(retryAfter / 1000)} s, which would end past the deadline`;
      }
      throw expired(attempt + 1, { status: answer.status });
    }
    options.onRetry?.({ attempt: attempt + 1, delayMs, reason: 'http_status', status: answer.status });
    await sleep(delayMs);
  }
}

async function sendOnce(
  url: string,
  request: OutgoingRequest,
  options: TransportOptions,
  timeoutMs: number,
  where: string,
  timedOut: (cause: unknown) => TokenEndpointError,
): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
  try {
    const response = await options.fetch(url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      redirect: 'manual',
      signal,
    });
    const text = await readCapped(response, options.maxResponseBytes, where);
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    if (error instanceof TokenEndpointError) throw error;
    if (signal.aborted) throw timedOut(error);
    throw new TokenEndpointError('network', `request to ${where} failed: ${networkReason(error)}`, { cause: error });
  }
}

async function readCapped(response: Response, max: number, where: string): Promise<string> {
  const tooLarge = () =>
    new TokenEndpointError('response_too_large', `answer from ${where} is larger than ${max} bytes`, {
      status: response.status,
    });
  const declared = Number(response.headers.get('content-length'));
  if (declared > max) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let total = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

function networkReason(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return error instanceof Error ? error.message : 'unknown error';
}

function backoff(attempt: number, random: () => number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Retry-After as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
