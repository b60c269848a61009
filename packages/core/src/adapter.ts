/**
 * `@tokenkit/core/adapter`: the seam HTTP client adapters build on. One {@link TokenClient} per client instance
 * knows where tokens may go; one {@link OutgoingRequest} per request owns every decision about it — whether the URL
 * actually sent may carry the token, what a redirect hop may carry, whether a 401 earns the one retry and how our
 * header is removed from the errors the client throws. An adapter maps its client's hooks onto these calls and
 * decides nothing itself.
 * @packageDocumentation
 */
import type { DPoPBinding } from './dpop.ts';
import { ConfigurationError } from './errors.ts';
import { OBSERVE, type EmitEvent, type TokenEvent } from './options.ts';
import { REDACTED } from './scrub.ts';
import type { GetTokenOptions, TokenProvider } from './token-provider.ts';
import { describeUrl } from './transport.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

export type { GetTokenOptions, TokenProvider };
/** The `Authorization: Basic` value for a client id and secret, RFC 6749 Appendix B form-encoded or `'plain'`. */
export { basicAuthorization } from './client-auth.ts';
/** Masks secrets in text a package built on core prints itself (the CLI): the same forms core masks in its errors. */
export { REDACTED, scrub } from './scrub.ts';

/** Options every adapter accepts. */
export interface RequestAuthOptions {
  /**
   * Origins that receive the token, besides the client's base URL, e.g.
   * `['https://files.example.com']`. A request to any other origin goes out
   * without it. Each must be HTTPS (or loopback).
   */
  origins?: readonly (string | URL)[] | undefined;
  /** Invalidate the token and retry once when a request that carried it gets 401. Default true. */
  retryOn401?: boolean | undefined;
}

/**
 * Throws a `ConfigurationError` naming `tokens` unless `value` is a
 * {@link TokenProvider}; for adapters that check their arguments before they
 * know the client's base URL.
 * @example
 * ```ts
 * assertTokenProvider(config.tokens); // in an adapter's constructor
 * ```
 */
export function assertTokenProvider(value: unknown): asserts value is TokenProvider {
  const tokens = value as Partial<TokenProvider> | undefined;
  if (
    typeof tokens?.authorizationHeader !== 'function' ||
    typeof tokens.cachedAuthorizationHeader !== 'function' ||
    typeof tokens.invalidate !== 'function'
  ) {
    throw new ConfigurationError('tokens', 'must be a TokenProvider from createTokenProvider()');
  }
}

/** Options of {@link createTokenClient}: the shared adapter options and the client's own base URL. */
export interface TokenClientOptions extends RequestAuthOptions {
  /** The client's base URL (axios/Apollo `baseURL`, got `prefixUrl`, ky `baseUrl`/`prefix`); its origin gets the token. */
  baseUrl?: string | URL | undefined;
}

/** What an adapter knows about a request when it starts. */
export interface RequestFacts {
  /** The caller set `Authorization` themselves (or said "send none"): it is left alone and no token is fetched. */
  callerAuthorization?: boolean | undefined;
  /** The body can be sent again (not a stream): a 401 may be retried. Default true. */
  replayable?: boolean | undefined;
  /** The request's method: a DPoP proof's `htm` (a redirect hop may change it, see {@link OutgoingRequest.redirect}). Default GET. */
  method?: string | undefined;
}

/**
 * An answer's headers as a client hands them over: anything with `get(name)` (fetch's `Headers`, axios's
 * `AxiosHeaders`), or a record with lower-case names (Node's and undici's).
 */
export type AnswerHeaders = { get(name: string): unknown } | Readonly<Record<string, unknown>>;

/**
 * One client instance's token policy: which origins receive the token and which header values are ours.
 * @example
 * ```ts
 * const client = createTokenClient(tokens, { baseUrl: 'https://api.example.com', origins: [] });
 * const request = client.start({ callerAuthorization: false, replayable: true });
 * const header = request.headerSync(url) ?? (await request.header(url, { signal }));
 * ```
 */
export interface TokenClient {
  readonly tokens: TokenProvider;
  /** True when a request to `url` may carry the token: its origin is one the client was made for. */
  allows(url: string | URL): boolean;
  /** Starts the lifecycle of one outgoing request: every attempt, redirect hop and the one retry. */
  start(facts?: RequestFacts): OutgoingRequest;
  /** True for an `Authorization` value this client put on a request (the last few tokens are remembered). */
  isOurs(value: unknown): value is string;
  /**
   * Removes every `Authorization` value this client put on a request from what `error` holds — the client's
   * request objects, raw header strings, header maps — in place, so that logging it (pino's serializers,
   * `util.inspect` with any depth, `JSON.stringify`) shows none. Returns `error`.
   */
  conceal<T>(error: T): T;
}

/**
 * Everything about one outgoing request. Decisions are taken on the URL actually sent: call {@link header} (or
 * {@link headerSync}) with the final URL, after every hook of the client has run.
 */
export interface OutgoingRequest {
  /** The `Authorization` value our last attempt carried, if any. */
  readonly sent: string | undefined;
  /**
   * The `DPoP` header value (RFC 9449 proof) for the attempt or hop our `Authorization` value was last given to —
   * fresh for its method and URL, with `ath` and the origin's latest nonce — when the provider uses DPoP. Put it on
   * whenever you put our header on; undefined: the hop goes without (then remove a `DPoP` header that a request
   * which carried our token, `sent !== undefined`, still holds: it is ours).
   */
  readonly dpop: string | undefined;
  /**
   * The `Authorization` value for an attempt to `url` when it can be given at once: a string (a token is cached),
   * `null` (this attempt goes without: another origin, the caller's own header, a hop that lost it), or
   * `undefined` (a token must be waited for: call {@link header}).
   */
  headerSync(url: string | URL): string | null | undefined;
  /** The `Authorization` value for an attempt to `url`, waiting for a token if needed; undefined: goes without. */
  header(url: string | URL, wait?: GetTokenOptions): Promise<string | undefined>;
  /**
   * A redirect hop the adapter controls, to `url`, sent with `method` (a 303 turns a POST into a GET; default: as
   * before): true when our header may stay on it, and then {@link dpop} is a fresh proof for the hop. A hop that
   * loses the token, and every hop after it, never gets it back.
   */
  redirect(url: string | URL, method?: string): boolean;
  /**
   * For clients that follow redirects themselves and drop `Authorization` on a cross-origin hop (fetch, undici,
   * ky, got 16): the answer came from `url`. When that is another origin than the one our header went to, the
   * header did not reach it.
   */
  answeredBy(url: string | URL): void;
  /**
   * For clients that follow redirects below the adapter and were told to remove our headers on every hop (undici's
   * redirect interceptor composed inside tokenkit's, given `stripHeadersOnRedirect`, where no fresh DPoP proof can be
   * put on a hop): the answer came from the hop to `url`, which went without our header. Its 401 is not about our
   * token, and no later hop of the request gets it.
   */
  wentWithout(url: string | URL): void;
  /**
   * An answer's status (and headers: with DPoP they carry the server's nonces). True when the request earns its one
   * retry: a 401 to a hop that carried our token, whose body can be sent again, and either the token is
   * invalidated and a different one can be had, or (DPoP) the API asked for a nonce (`WWW-Authenticate: DPoP
   * error="use_dpop_nonce"` with a `DPoP-Nonce`; the token stays). Then send it again with {@link header}. Never
   * true twice.
   */
  retryAfter(status: number, headers?: AnswerHeaders): Promise<boolean>;
  /**
   * False when {@link retryAfter} would answer false for `status` at once: for clients that await whatever a hook
   * returns (got's `afterResponse`), so that most answers need no promise. With DPoP, call it (or
   * {@link retryAfter}) with every answer's headers: a `DPoP-Nonce` is kept for the origin that gave it.
   */
  mayRetry(status: number, headers?: AnswerHeaders): boolean;
}

const BEARER = 'Bearer ';
const DPOP = 'DPoP ';

/** One header of an answer, as a string (the first of several), or undefined. */
function headerOf(headers: AnswerHeaders, name: string): string | undefined {
  const value =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): unknown }).get(name)
      : (headers as Record<string, unknown>)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' && first !== '' ? first : undefined;
}

/** A 401's `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` (RFC 9449 §9). */
function asksForNonce(headers: AnswerHeaders): boolean {
  const challenge = headerOf(headers, 'www-authenticate');
  return (
    challenge !== undefined &&
    /\bDPoP\b/i.test(challenge) &&
    /\berror\s*=\s*"?use_dpop_nonce\b/.test(challenge) &&
    headerOf(headers, 'dpop-nonce') !== undefined
  );
}
/** How many recent Authorization values are recognised as ours (tokens rotate rarely). */
const REMEMBERED = 8;

/**
 * Creates the {@link TokenClient} of one HTTP client instance. With neither a base URL nor `origins` the token would
 * go nowhere: a `ConfigurationError`.
 */
export function createTokenClient(tokens: TokenProvider, options: TokenClientOptions = {}): TokenClient {
  assertTokenProvider(tokens);
  const origins = allowedOrigins(options);
  const retryOn401 = options.retryOn401 ?? true;
  const originFor = originCheck(origins);
  const allows = (url: string | URL): boolean => originFor(url) !== undefined;
  const issued = new Set<string>();
  // The value put on last: most requests carry the same one, and a comparison costs less than a lookup.
  let last: string | undefined;
  const remember = (value: string): string => {
    if (value !== last && !issued.has(value)) {
      if (issued.size === REMEMBERED) issued.delete(issued.values().next().value!);
      issued.add(value);
    }
    last = value;
    return value;
  };
  const isOurs = (value: unknown): value is string => typeof value === 'string' && issued.has(value);
  // Decisions are reported into the provider's events when it is observed (onEvent, debug output); else not built.
  const emit = (tokens as { [OBSERVE]?: EmitEvent | undefined })[OBSERVE];
  const policy: Policy = { tokens, originFor, retryOn401, remember, dpop: tokens.dpop, emit };
  return {
    tokens,
    allows,
    start: (facts = {}) =>
      policy.dpop === undefined
        ? new RequestLifecycle(policy, facts.callerAuthorization === true, facts.replayable !== false)
        : new DPoPRequestLifecycle(
            policy,
            facts.callerAuthorization === true,
            facts.replayable !== false,
            facts.method,
            policy.dpop,
          ),
    isOurs,
    conceal: (error) => concealValues(error, [...issued]),
  };
}

interface Policy {
  tokens: TokenProvider;
  /** The allowed origin `url` belongs to, or undefined. */
  originFor: (url: string | URL) => string | undefined;
  retryOn401: boolean;
  remember: (value: string) => string;
  /** The provider's DPoP binding; undefined for Bearer providers, which then pay for nothing below. */
  dpop: DPoPBinding | undefined;
  emit: EmitEvent | undefined;
}

type Authorize = Extract<TokenEvent, { type: 'authorize' }>;

/** Reports a decision about a request (only called when the provider is observed). */
function report(
  policy: Policy,
  url: string | URL,
  kind: 'authorize' | 'redirect',
  ok: boolean,
  reason?: Authorize['reason'],
): void {
  const where = describeUrl(String(url)); // origin and path: never the query
  const key = policy.tokens.key;
  const event: TokenEvent =
    kind === 'redirect'
      ? { type: 'redirect', key, url: where, kept: ok }
      : { type: 'authorize', key, url: where, sent: ok };
  if (reason !== undefined && event.type === 'authorize') event.reason = reason;
  policy.emit!(event);
}

/** Reports what became of a 401 (only called when the provider is observed). */
function reportUnauthorized(policy: Policy, reason: (TokenEvent & { type: 'unauthorized' })['reason']): void {
  policy.emit!({
    type: 'unauthorized',
    key: policy.tokens.key,
    retried: reason === undefined,
    ...(reason && { reason }),
  });
}

class RequestLifecycle implements OutgoingRequest {
  sent: string | undefined;
  /** The origin our header went to, while the current hop carries it. */
  #carriedTo: string | undefined;
  /** A hop lost the token (or the request never had it after a redirect): it never comes back. */
  #lost = false;
  #retried = false;
  readonly #policy: Policy;
  readonly #caller: boolean;
  readonly #replayable: boolean;

  constructor(policy: Policy, caller: boolean, replayable: boolean) {
    this.#policy = policy;
    this.#caller = caller;
    this.#replayable = replayable;
  }

  /** Bearer: no proof (a getter on the prototype, so a Bearer request carries no field for it). */
  get dpop(): string | undefined {
    return undefined;
  }

  /** The origin the current hop carries our header to, if it does. */
  protected get carriedTo(): string | undefined {
    return this.#carriedTo;
  }

  headerSync(url: string | URL): string | null | undefined {
    const policy = this.#policy;
    const origin = this.#caller || this.#lost ? undefined : policy.originFor(url);
    if (origin === undefined) {
      this.#carriedTo = undefined; // this attempt goes without: a 401 to it is not ours
      if (policy.emit !== undefined) {
        const why = this.#caller ? 'caller_authorization' : this.#lost ? 'lost_on_redirect' : 'origin_not_allowed';
        report(policy, url, 'authorize', false, why);
      }
      return null;
    }
    const value = policy.tokens.cachedAuthorizationHeader();
    if (value !== undefined) this.#put(value, origin, url);
    return value;
  }

  async header(url: string | URL, wait?: GetTokenOptions): Promise<string | undefined> {
    const now = this.headerSync(url);
    if (now !== undefined) return now ?? undefined;
    const value = await this.#policy.tokens.authorizationHeader(wait);
    // The wait may have outlived a decision taken meanwhile (none today); the origin is checked again.
    const origin = this.#policy.originFor(url);
    if (origin === undefined) return undefined;
    this.#put(value, origin, url);
    return value;
  }

  #put(value: string, origin: string, url: string | URL): void {
    this.sent = this.#policy.remember(value);
    this.#carriedTo = origin;
    if (this.#policy.emit !== undefined) report(this.#policy, url, 'authorize', true);
  }

  redirect(url: string | URL, _method?: string): boolean {
    const carried = this.#carriedTo !== undefined && !this.#lost;
    const origin = carried ? this.#policy.originFor(url) : undefined;
    if (origin === undefined) this.#drop();
    else this.#carriedTo = origin;
    if (carried && this.#policy.emit !== undefined) report(this.#policy, url, 'redirect', origin !== undefined);
    return origin !== undefined;
  }

  answeredBy(url: string | URL): void {
    if (this.#carriedTo !== undefined && tryParseUrl(url)?.origin !== this.#carriedTo) {
      this.#drop();
      if (this.#policy.emit !== undefined) report(this.#policy, url, 'redirect', false);
    }
  }

  wentWithout(url: string | URL): void {
    const carried = this.#carriedTo !== undefined;
    this.#drop();
    if (carried && this.#policy.emit !== undefined) report(this.#policy, url, 'redirect', false);
  }

  #drop(): void {
    this.#carriedTo = undefined;
    this.#lost = true;
  }

  mayRetry(status: number, _headers?: AnswerHeaders): boolean {
    const may = this.#mayRetry(status);
    if (!may && status === 401 && this.#policy.emit !== undefined) reportUnauthorized(this.#policy, this.#whyNot());
    return may;
  }

  /** Why a 401 earns no retry, for events. */
  #whyNot(): 'retry_disabled' | 'already_retried' | 'not_ours' {
    return !this.#policy.retryOn401 ? 'retry_disabled' : this.#retried ? 'already_retried' : 'not_ours';
  }

  #mayRetry(status: number): boolean {
    return (
      status === 401 &&
      this.#policy.retryOn401 &&
      !this.#retried &&
      this.#carriedTo !== undefined &&
      this.sent !== undefined
    );
  }

  async retryAfter(status: number, headers?: AnswerHeaders): Promise<boolean> {
    const sent = this.sent;
    if (!this.mayRetry(status, headers) || sent === undefined) return false;
    this.#retried = true;
    const dpop = this.#policy.dpop;
    // RFC 9449 §9: the API wants a nonce (kept by mayRetry); the token itself was not refused.
    if (dpop !== undefined && headers !== undefined && asksForNonce(headers))
      return this.#replayable && dpop.nonceFor(this.#carriedTo!) !== undefined;
    const space = sent.indexOf(' ');
    const scheme = sent.slice(0, space + 1);
    if (scheme !== BEARER && scheme !== DPOP) return false;
    const tokens = this.#policy.tokens;
    // Rejected: never served again, even when this request cannot be sent again.
    await tokens.invalidate(sent.slice(space + 1));
    // Re-sending is worth it only with another token (invalidate may keep one: see there).
    const again = this.#replayable && tokens.cachedAuthorizationHeader() !== sent;
    if (this.#policy.emit !== undefined)
      reportUnauthorized(this.#policy, again ? undefined : this.#replayable ? 'token_kept' : 'not_replayable');
    return again;
  }
}

/**
 * True when `body` can be sent a second time (for the one retry after a 401, or a 307/308 hop): no body, strings,
 * bytes, `Blob`, `FormData`, `URLSearchParams` and plain values a client serialises (JSON). False for bodies read
 * once: Node streams, web `ReadableStream`s, iterators and async iterables.
 */
export function isReplayableBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return true;
  const value = body as { pipe?: unknown; getReader?: unknown; next?: unknown; [Symbol.asyncIterator]?: unknown };
  return (
    typeof value.pipe !== 'function' &&
    typeof value.getReader !== 'function' &&
    typeof value.next !== 'function' &&
    typeof value[Symbol.asyncIterator] !== 'function'
  );
}

/**
 * A request of a DPoP provider: every time our header goes on (an attempt, a hop, the retry) a fresh proof for the
 * method and URL goes with it, and the `DPoP-Nonce` of each answer to our token is kept for its origin. A subclass,
 * so that Bearer requests run exactly the code above.
 */
class DPoPRequestLifecycle extends RequestLifecycle {
  #proof: string | undefined;
  /** The Authorization value the current proof's `ath` is for. */
  #provenFor: string | undefined;
  #method: string;
  readonly #binding: DPoPBinding;

  constructor(policy: Policy, caller: boolean, replayable: boolean, method: string | undefined, binding: DPoPBinding) {
    super(policy, caller, replayable);
    this.#method = (method ?? 'GET').toUpperCase();
    this.#binding = binding;
  }

  override get dpop(): string | undefined {
    return this.#proof;
  }

  override headerSync(url: string | URL): string | null | undefined {
    const value = super.headerSync(url);
    this.#prove(value, url);
    return value;
  }

  override async header(url: string | URL, wait?: GetTokenOptions): Promise<string | undefined> {
    const value = await super.header(url, wait); // a cached token was proven by headerSync already
    if (this.#provenFor !== value) this.#prove(value, url);
    return value;
  }

  /** A fresh proof for the current method and `url` when `value` is our `DPoP <token>`, else none. */
  #prove(value: string | null | undefined, url: string | URL): void {
    this.#provenFor = value ?? undefined;
    this.#proof =
      typeof value === 'string' && value.startsWith(DPOP)
        ? this.#binding.proof(this.#method, url, value.slice(DPOP.length))
        : undefined;
  }

  override redirect(url: string | URL, method?: string): boolean {
    if (method !== undefined) this.#method = method.toUpperCase();
    const keep = super.redirect(url);
    this.#prove(keep ? this.sent : undefined, url);
    return keep;
  }

  override answeredBy(url: string | URL): void {
    super.answeredBy(url);
    if (this.carriedTo === undefined) this.#proof = undefined;
  }

  override wentWithout(url: string | URL): void {
    super.wentWithout(url);
    this.#proof = undefined;
  }

  override mayRetry(status: number, headers?: AnswerHeaders): boolean {
    // A DPoP-Nonce from the hop that carried our token is the latest one of its origin.
    const origin = this.carriedTo;
    const nonce = origin === undefined || headers === undefined ? undefined : headerOf(headers, 'dpop-nonce');
    if (nonce !== undefined) this.#binding.setNonce(origin!, nonce);
    return super.mayRetry(status);
  }
}

function allowedOrigins(options: TokenClientOptions): Set<string> {
  const origins = new Set<string>();
  const add = (value: string | URL, name: string) => {
    const url = typeof value === 'string' || value instanceof URL ? tryParseUrl(value) : undefined;
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new ConfigurationError(name, `${String(value)} is not an http(s) URL`);
    }
    if (!isSecureUrl(url))
      throw new ConfigurationError(name, `${url.origin} is not HTTPS; tokens go only over HTTPS (or to loopback)`);
    origins.add(url.origin);
  };
  if (options.baseUrl !== undefined && options.baseUrl !== '') add(options.baseUrl, 'baseUrl');
  if (options.origins !== undefined) {
    if (!Array.isArray(options.origins)) throw new ConfigurationError('origins', 'must be an array of URLs');
    for (const origin of options.origins) add(origin, 'origins');
  }
  if (origins.size === 0)
    throw new ConfigurationError(
      'origins',
      'the client has no base URL: pass `origins` to say which API may receive the token',
    );
  return origins;
}

/**
 * The origin check: the allowed origin `url` belongs to, or undefined. Plainly: parse, compare origins. Every
 * request of every adapter runs it right after a network round trip, so a URL string that starts with an allowed
 * origin followed by `/`, `?`, `#` or nothing is matched without parsing (see docs/benchmarks.md); the origin
 * table in adapter.test.ts checks that both paths agree.
 */
export function originCheck(origins: ReadonlySet<string>, fastPath = true): (url: string | URL) => string | undefined {
  const list = [...origins];
  return (url) => {
    if (fastPath && typeof url === 'string')
      for (const origin of list) if (startsWithOrigin(url, origin)) return origin;
    const origin = tryParseUrl(url)?.origin;
    return origin !== undefined && origins.has(origin) ? origin : undefined;
  };
}

/** `url` is `<origin>` followed by nothing, '/', '?' or '#'. */
function startsWithOrigin(url: string, origin: string): boolean {
  if (!url.startsWith(origin)) return false;
  const next = url.charAt(origin.length);
  return next === '' || next === '/' || next === '?' || next === '#';
}

/** Objects visited at most while concealing: enough for any client's error, bounded for any graph. */
const CONCEAL_BUDGET = 20_000;
const CONCEAL_DEPTH = 8;

/**
 * Removes `values` (our `Authorization` values, and the bare tokens in them) from every string reachable from
 * `root` through own data properties, breadth first, in place; header maps holding one lose that header. Getters
 * are not called. Returns `root`.
 */
export function concealValues<T>(root: T, values: readonly string[]): T {
  const secrets = new Set<string>();
  for (const value of values) {
    secrets.add(value);
    const space = value.indexOf(' ');
    if (space > 0) secrets.add(value.slice(space + 1));
  }
  if (secrets.size === 0 || typeof root !== 'object' || root === null) return root;
  const hide = (text: string): string => {
    let out = text;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  };
  const seen = new WeakSet<object>();
  let queue: object[] = [root];
  let budget = CONCEAL_BUDGET;
  for (let depth = 0; depth <= CONCEAL_DEPTH && queue.length > 0; depth++) {
    const next: object[] = [];
    for (const node of queue) {
      if (seen.has(node) || budget-- <= 0) continue;
      seen.add(node);
      if (node instanceof Headers) {
        const value = node.get('authorization');
        if (value !== null && hide(value) !== value) node.delete('authorization');
        continue;
      }
      if (ArrayBuffer.isView(node)) continue;
      for (const key of Reflect.ownKeys(node)) {
        const descriptor = Reflect.getOwnPropertyDescriptor(node, key);
        if (descriptor === undefined || !('value' in descriptor)) continue;
        const value: unknown = descriptor.value;
        if (typeof value === 'string') {
          const hidden = hide(value);
          if (hidden === value) continue;
          if (descriptor.writable) (node as Record<PropertyKey, unknown>)[key] = hidden;
          else if (descriptor.configurable) Object.defineProperty(node, key, { ...descriptor, value: hidden });
        } else if (typeof value === 'object' && value !== null) {
          next.push(value);
        }
      }
      if (node instanceof Map)
        for (const [key, value] of node)
          if (typeof value === 'string' && hide(value) !== value) node.set(key, hide(value));
    }
    queue = next;
  }
  return root;
}

/** A hop's request, as {@link sendFollowingRedirects} passes it to `send`. */
export interface HopInit {
  method?: string | undefined;
  headers: Record<string, string>;
  body?: unknown;
  redirect: 'manual';
  [option: string]: unknown;
}

/** What {@link sendFollowingRedirects} needs of an answer: WHATWG fetch's and node-fetch's responses both fit. */
export interface HopResponse {
  status: number;
  headers: { get(name: string): string | null };
  arrayBuffer?(): Promise<unknown>;
}

const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'cookie', 'cookie2']);
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]);
/** Redirects followed for one request at most, as in browsers and undici. */
export const MAX_REDIRECTS = 20;

/**
 * For fetch-like clients whose own redirect handling cannot be trusted with a token (node-fetch 2 keeps
 * `Authorization` when only the port changes; a user's custom `fetch` may keep it anywhere): sends `init` to `url`
 * with `redirect: 'manual'` and follows redirects here. Each hop asks `request` whether our token may stay; the
 * caller's own credentials (`Authorization`, cookies) stay only on the same origin. 303, and 301/302 after a POST,
 * become a GET without a body; a body that cannot be sent again ends the chain with the redirect answer.
 */
export async function sendFollowingRedirects<R extends HopResponse>(
  send: (url: string, init: HopInit) => Promise<R>,
  url: string,
  init: HopInit,
  request: OutgoingRequest,
  replayable: boolean,
): Promise<R> {
  const response = await send(url, init);
  // Most answers are not redirects: the URL is parsed only when one is followed.
  return isRedirect(response.status) ? followRedirects(send, url, init, response, request, replayable) : response;
}

/** True for an answer {@link sendFollowingRedirects} follows: 301, 302, 303, 307, 308. */
export function isRedirect(status: number): boolean {
  return status >= 301 && status <= 308 && (status <= 303 || status >= 307); // compared, not looked up: every answer
}

/**
 * {@link sendFollowingRedirects} after its first hop, for an adapter that sent that hop itself (`init` to `url`)
 * and got `response`: follows it when it is a redirect ({@link isRedirect}), with the same rules; otherwise resolves
 * to `response`. Sending the first hop directly saves an `async` step on every request that is not redirected.
 */
export function followRedirects<R extends HopResponse>(
  send: (url: string, init: HopInit) => Promise<R>,
  url: string,
  init: HopInit,
  response: R,
  request: OutgoingRequest,
  replayable: boolean,
): Promise<R> {
  return follow(send, new URL(url), init, response, request, replayable);
}

async function follow<R extends HopResponse>(
  send: (url: string, init: HopInit) => Promise<R>,
  first: URL,
  init: HopInit,
  answer: R,
  request: OutgoingRequest,
  replayable: boolean,
): Promise<R> {
  let current = first;
  let hop = init;
  let response = answer;
  for (let hops = 0; isRedirect(response.status); hops++) {
    const location = response.headers.get('location');
    if (location === null) return response;
    const method = (hop.method ?? 'GET').toUpperCase();
    const toGet = response.status === 303 ? method !== 'HEAD' : response.status <= 302 && method === 'POST';
    if (!toGet && !replayable) return response; // a stream cannot be sent again
    if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${first.origin}`);
    await response.arrayBuffer?.().catch(() => undefined); // frees the connection
    const next = new URL(location, current);
    const sameOrigin = next.origin === current.origin;
    const proof = request.dpop;
    const keepOurs = request.redirect(next, toGet ? 'GET' : method);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(hop.headers)) {
      const lower = name.toLowerCase();
      if (lower === 'dpop' && value === proof) continue; // a proof is for one hop only: a fresh one is put on below
      const ours = lower === 'authorization' && value === request.sent;
      const keep = ours ? keepOurs : sameOrigin || !CREDENTIALS.has(lower);
      if (keep && !(toGet && BODY_HEADERS.has(lower))) headers[name] = value;
    }
    if (keepOurs && request.dpop !== undefined) headers['dpop'] = request.dpop;
    if (toGet) {
      const { body: _dropped, ...rest } = hop;
      hop = { ...rest, method: 'GET', headers };
    } else hop = { ...hop, headers };
    current = next;
    response = await send(current.href, hop);
  }
  return response;
}
