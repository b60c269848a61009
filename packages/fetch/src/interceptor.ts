import type { RequestAuthOptions, TokenProvider } from '@tokenkit/core';
import { createTokenClient, isReplayableBody, type OutgoingRequest, type TokenClient } from '@tokenkit/core/adapter';
import type { Dispatcher } from 'undici';

/**
 * Options of {@link tokenInterceptor}.
 *
 * @example
 * ```ts
 * const options: TokenInterceptorOptions = { origins: ['https://api.example.com'], retryOn401: true };
 * ```
 */
export interface TokenInterceptorOptions extends RequestAuthOptions {
  /** The origins that receive the token, e.g. `['https://api.example.com']`; every other origin gets none. */
  origins: readonly (string | URL)[];
}

type Dispatch = Dispatcher['dispatch'];
type DispatchOptions = Dispatcher.DispatchOptions;
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = DispatchOptions['headers'];

/**
 * An undici interceptor that puts `Authorization: Bearer <token>` from `tokens` on requests to `origins`, for
 * `Dispatcher.compose()`: every request through the composed dispatcher (`undici.request`, `fetch(url, {
 * dispatcher })`, an SDK that takes a dispatcher) gets the token there and nowhere else, decided on the origin and
 * path each request is dispatched with. Redirects followed by undici's redirect interceptor, composed on either
 * side of this one, never take the token to another origin, and a hop that lost it never gets it back. A caller's
 * own `Authorization` stays. A 401 to our token drops it and sends the request once more with a fresh one (not a
 * body that is a stream). The request's `signal` ends the wait for a token.
 *
 * @example
 * ```ts
 * import { Agent, interceptors, request } from 'undici';
 * const agent = new Agent().compose(tokenInterceptor(tokens, { origins: ['https://api.example.com'] }), interceptors.redirect());
 * const { statusCode, body } = await request('https://api.example.com/payments', { dispatcher: agent });
 * ```
 */
export function tokenInterceptor(
  tokens: TokenProvider,
  options: TokenInterceptorOptions,
): Dispatcher.DispatcherComposeInterceptor {
  const client = createTokenClient(tokens, { origins: options.origins, retryOn401: options.retryOn401 });
  // undici's redirect and retry interceptors, composed outside this one, dispatch every hop and retry of a request
  // with the same handler, after an answer that is not a success: the request's lifecycle is kept for such a
  // handler only (one WeakMap entry, or one property added to undici's handler, per request has a measurable cost).
  const again = new WeakMap<Handler, OutgoingRequest>();
  return (dispatch) => {
    const chain: Chain = { client, dispatch, again };
    return function dispatchWithToken(opts: DispatchOptions, handler: Handler): boolean {
      // A handler of undici 6's shape (onConnect, onHeaders; Node's own fetch before undici 8) is refused by
      // undici 8 dispatchers, and undici 7 wraps it before any interceptor: passed on untouched, never given a token.
      if (typeof handler.onRequestStart !== 'function') return dispatch(opts, handler);
      const url = urlOf(opts);
      let request = again.get(handler);
      let now: string | null | undefined;
      if (request === undefined) {
        request = client.start({
          callerAuthorization: hasAuthorization(opts.headers),
          replayable: isReplayableBody(opts.body),
          method: opts.method,
        });
        now = request.headerSync(url);
      } else now = request.redirect(url, opts.method) ? request.headerSync(url) : null;
      const attempt = new Attempt(chain, request, opts, url, handler);
      if (now !== undefined) return attempt.send(now);
      attempt
        .header()
        .then((value) => attempt.send(value ?? null))
        .catch((error: unknown) => attempt.fail(null, error));
      return true;
    };
  };
}

/** What every request through one composed dispatcher shares. */
interface Chain {
  readonly client: TokenClient;
  readonly dispatch: Dispatch;
  readonly again: WeakMap<Handler, OutgoingRequest>;
}

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** undici's redirect interceptor reads this per request too, in the releases that have it (8.14 does, 7.0 not). */
interface StripOption {
  stripHeadersOnRedirect?: string[] | undefined;
}

/** An answer that may earn the retry (a 401 to our token), held back while core decides whether it does. */
interface Held {
  controller: Controller;
  statusCode: number;
  headers: ResponseHeaders;
  statusMessage: string | undefined;
  chunks: Buffer[];
  /** How the 401 ended: its trailers, or an error. */
  end?: { trailers: ResponseHeaders } | { error: Error };
  /** What came of asking core: deliver the 401, send again with this header, or fail. */
  decision?: 'deliver' | { retryWith: string } | { error: unknown };
}

/**
 * One attempt of a request (with our header, or without): the handler it is dispatched with. It passes everything
 * on to the caller's handler, except a 401 until core has decided; the one retry is an attempt of its own.
 */
class Attempt implements Handler {
  #context: unknown;
  /** This attempt carried our token with a DPoP proof. */
  #proven = false;
  /** The 401 held back; `null` once this attempt has handed the request on (retried) or failed it. */
  #held: Held | null | undefined;

  constructor(
    readonly chain: Chain,
    readonly request: OutgoingRequest,
    readonly opts: DispatchOptions,
    readonly url: string,
    readonly handler: Handler,
  ) {}

  /** Sends this attempt with our header, or (null) without: watched all the same, for the hops that may follow. */
  send(authorization: string | null): boolean {
    const { dpop, sent } = this.request;
    let opts = this.opts;
    if (authorization !== null && dpop !== undefined) {
      // A proof names one method and URL. A redirect interceptor composed inside this one follows hops we cannot put
      // a fresh proof on: it is told to send them without our headers (undici releases that know the option).
      const strip = (opts as StripOption).stripHeadersOnRedirect ?? [];
      opts = {
        ...opts,
        headers: withAuthorization(opts.headers, authorization, dpop),
        stripHeadersOnRedirect: [...strip, 'authorization', 'dpop'],
      } as DispatchOptions;
      this.#proven = true;
    } else if (authorization !== null)
      opts = { ...opts, headers: withAuthorization(opts.headers, authorization, undefined) };
    // A hop that goes without, of a request whose earlier hop carried our token: a DPoP proof on it is ours.
    else if (sent !== undefined && dpop === undefined) opts = { ...opts, headers: withoutDPoP(opts.headers) };
    return this.chain.dispatch(opts, this);
  }

  /** The header for an attempt, waiting for a token if needed; the request's `signal` ends the wait. */
  header(): Promise<string | undefined> {
    const signal = (this.opts as { signal?: unknown }).signal;
    return this.request.header(this.url, { signal: signal instanceof AbortSignal ? signal : undefined });
  }

  fail(controller: Controller | null, error: unknown): void {
    this.handler.onResponseError?.(controller as Controller, this.chain.client.conceal(error) as Error);
  }

  /** The answer was not a success: a redirect or retry interceptor may dispatch this handler again. */
  #mayComeAgain(): void {
    this.chain.again.set(this.handler, this.request);
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#context = context;
    this.handler.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(...args: Parameters<NonNullable<Handler['onRequestUpgrade']>>): void {
    this.handler.onRequestUpgrade?.(...args);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (statusCode >= 200) {
      // A redirect interceptor composed inside this one followed these hops (the first is the URL dispatched). With
      // DPoP no hop of them had a valid proof (they went without our headers, or, on older undici, with the first
      // hop's proof): an answer from one is not about our token.
      const history = (this.#context as { history?: unknown } | undefined)?.history;
      if (Array.isArray(history) && history.length > 1) {
        if (this.#proven) this.request.wentWithout(history[history.length - 1] as URL);
        else for (let i = 1; i < history.length; i++) this.request.redirect(history[i] as URL);
      }
      if (statusCode >= 300) this.#mayComeAgain();
      if (this.request.mayRetry(statusCode, headers))
        return this.#hold({ controller, statusCode, headers, statusMessage, chunks: [] });
    }
    this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#held === undefined) this.handler.onResponseData?.(controller, chunk);
    else this.#held?.chunks.push(chunk);
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    if (this.#held === undefined) this.handler.onResponseEnd?.(controller, trailers);
    else if (this.#held !== null) this.#settle(this.#held, { trailers });
  }

  onResponseError(controller: Controller | null, error: Error): void {
    this.#mayComeAgain();
    if (this.#held === undefined) this.fail(controller, error);
    else if (this.#held !== null) this.#settle(this.#held, { error });
  }

  onBodySent(chunk: Buffer): void {
    this.handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    this.handler.onRequestSent?.();
  }

  onResponseStarted(): void {
    this.handler.onResponseStarted?.();
  }

  #hold(held: Held): void {
    this.#held = held;
    this.request
      .retryAfter(held.statusCode, held.headers)
      .then(async (retry) => (retry ? await this.header() : undefined))
      .then(
        (retryWith) => this.#settle(held, undefined, retryWith === undefined ? 'deliver' : { retryWith }),
        (error: unknown) => this.#settle(held, undefined, { error }),
      )
      .catch((error: unknown) => this.fail(held.controller, error)); // thrown by the caller's handler
  }

  /** Acts once core has decided; a retry also waits for the 401's end (its connection is then reused). */
  #settle(held: Held, end?: Held['end'], decision?: Held['decision']): void {
    if (end !== undefined) held.end = end;
    if (decision !== undefined) held.decision = decision;
    const { handler } = this;
    if (held.decision === 'deliver') {
      this.#held = undefined; // from here on, everything passes through
      handler.onResponseStart?.(held.controller, held.statusCode, held.headers, held.statusMessage);
      for (const chunk of held.chunks) handler.onResponseData?.(held.controller, chunk);
      if (held.end !== undefined && 'error' in held.end) this.fail(held.controller, held.end.error);
      else if (held.end !== undefined) handler.onResponseEnd?.(held.controller, held.end.trailers);
    } else if (held.decision !== undefined && 'error' in held.decision) {
      this.#held = null;
      this.fail(held.controller, held.decision.error);
    } else if (held.decision !== undefined && held.end !== undefined) {
      this.#held = null;
      if ('error' in held.end) this.fail(held.controller, held.end.error);
      else new Attempt(this.chain, this.request, this.opts, this.url, this.handler).send(held.decision.retryWith);
    }
  }
}

/** The URL a dispatch goes to. */
function urlOf(opts: DispatchOptions): string {
  const origin = opts.origin;
  return `${typeof origin === 'string' ? origin : (origin?.origin ?? '')}${opts.path}`;
}

function isAuthorization(name: unknown): boolean {
  const text = String(name);
  return text.length === 13 && text.toLowerCase() === 'authorization';
}

/** Headers in any form undici takes: a record, a flat `[name, value, ...]` list, or `[name, value]` pairs. */
function hasAuthorization(headers: Headers): boolean {
  if (headers == null) return false;
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) return (headers as unknown as unknown[][]).some(([name]) => isAuthorization(name));
    for (let i = 0; i < headers.length; i += 2) if (isAuthorization(headers[i])) return true;
    return false;
  }
  if (!isRecord(headers)) {
    for (const [name] of headers as Iterable<[unknown, unknown]>) if (isAuthorization(name)) return true;
    return false;
  }
  for (const name in headers) if (headers[name] !== undefined && isAuthorization(name)) return true;
  return false;
}

/**
 * `headers` and ours (Authorization, and a DPoP proof when given), in a form every undici release's redirect handler
 * reads right (a record or a flat list). A proof already there (an earlier hop's) is replaced.
 */
function withAuthorization(headers: Headers, value: string, dpop: string | undefined): NonNullable<Headers> {
  if (headers == null) return dpop === undefined ? { authorization: value } : { authorization: value, dpop };
  if (isRecord(headers) && dpop === undefined) return { ...headers, authorization: value };
  const flat = flatHeaders(headers, dpop !== undefined);
  flat.push('authorization', value);
  if (dpop !== undefined) flat.push('dpop', dpop);
  return flat as string[];
}

/** `headers` without a DPoP proof. */
function withoutDPoP(headers: Headers): NonNullable<Headers> {
  return headers == null ? {} : (flatHeaders(headers, true) as string[]);
}

/** `headers` as a flat `[name, value, ...]` list; `dropDPoP`: without any `DPoP` header. */
function flatHeaders(headers: NonNullable<Headers>, dropDPoP: boolean): unknown[] {
  const flat: unknown[] = [];
  const add = (name: unknown, value: unknown) => {
    if (!(dropDPoP && String(name).toLowerCase() === 'dpop') && value !== undefined) flat.push(name, value);
  };
  if (isRecord(headers)) for (const name in headers) add(name, headers[name]);
  else if (Array.isArray(headers) && !Array.isArray(headers[0]))
    for (let i = 0; i < headers.length; i += 2) add(headers[i], headers[i + 1]);
  else for (const [name, header] of headers as Iterable<[unknown, unknown]>) add(name, header);
  return flat;
}

function isRecord(value: object): value is Record<string, string | string[] | undefined> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
