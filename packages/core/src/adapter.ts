/**
 * `@tokenkit/core/adapter`: the seam HTTP client adapters build on. One {@link TokenClient} per client instance
 * knows where tokens may go; one {@link OutgoingRequest} per request owns every decision about it — whether the URL
 * actually sent may carry the token, what a redirect hop may carry, whether a 401 earns the one retry and how our
 * header is removed from the errors the client throws. An adapter maps its client's hooks onto these calls and
 * decides nothing itself.
 * @packageDocumentation
 */
import { ConfigurationError } from './errors.ts';
import { OBSERVE, type EmitEvent, type TokenEvent } from './options.ts';
import { assertTokenProvider, type RequestAuthOptions } from './request-auth.ts';
import { REDACTED } from './scrub.ts';
import type { GetTokenOptions, TokenProvider } from './token-provider.ts';
import { describeUrl } from './transport.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

export type { GetTokenOptions, RequestAuthOptions, TokenProvider };

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
}

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
   * The `Authorization` value for an attempt to `url` when it can be given at once: a string (a token is cached),
   * `null` (this attempt goes without: another origin, the caller's own header, a hop that lost it), or
   * `undefined` (a token must be waited for: call {@link header}).
   */
  headerSync(url: string | URL): string | null | undefined;
  /** The `Authorization` value for an attempt to `url`, waiting for a token if needed; undefined: goes without. */
  header(url: string | URL, wait?: GetTokenOptions): Promise<string | undefined>;
  /**
   * A redirect hop the adapter controls, to `url`: true when our header may stay on it. A hop that loses the
   * token, and every hop after it, never gets it back.
   */
  redirect(url: string | URL): boolean;
  /**
   * For clients that follow redirects themselves and drop `Authorization` on a cross-origin hop (fetch, undici,
   * ky, got 16): the answer came from `url`. When that is another origin than the one our header went to, the
   * header did not reach it.
   */
  answeredBy(url: string | URL): void;
  /**
   * An answer's status. True when the request earns its one retry: it was a 401 to a hop that carried our token,
   * the token is invalidated, the body can be sent again and a different token can be had. Then send it again
   * with {@link header}. Never true twice.
   */
  retryAfter(status: number): Promise<boolean>;
  /**
   * False when {@link retryAfter} would answer false for `status` at once, doing nothing: for clients that await
   * whatever a hook returns (got's `afterResponse`), so that most answers need no promise.
   */
  mayRetry(status: number): boolean;
}

const BEARER = 'Bearer ';
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
  const remember = (value: string): string => {
    if (!issued.has(value)) {
      if (issued.size === REMEMBERED) issued.delete(issued.values().next().value!);
      issued.add(value);
    }
    return value;
  };
  const isOurs = (value: unknown): value is string => typeof value === 'string' && issued.has(value);
  // Decisions are reported into the provider's events when it is observed (onEvent, debug output); else not built.
  const emit = (tokens as { [OBSERVE]?: EmitEvent | undefined })[OBSERVE];
  const policy: Policy = { tokens, originFor, retryOn401, remember, emit };
  return {
    tokens,
    allows,
    start: (facts = {}) => new RequestLifecycle(policy, facts.callerAuthorization === true, facts.replayable !== false),
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

  headerSync(url: string | URL): string | null | undefined {
    const origin = this.#caller || this.#lost ? undefined : this.#policy.originFor(url);
    if (origin === undefined) {
      this.#carriedTo = undefined; // this attempt goes without: a 401 to it is not ours
      if (this.#policy.emit !== undefined) {
        const why = this.#caller ? 'caller_authorization' : this.#lost ? 'lost_on_redirect' : 'origin_not_allowed';
        report(this.#policy, url, 'authorize', false, why);
      }
      return null;
    }
    const value = this.#policy.tokens.cachedAuthorizationHeader();
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

  redirect(url: string | URL): boolean {
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

  #drop(): void {
    this.#carriedTo = undefined;
    this.#lost = true;
  }

  mayRetry(status: number): boolean {
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

  async retryAfter(status: number): Promise<boolean> {
    const sent = this.sent;
    if (!this.mayRetry(status) || sent === undefined) return false;
    this.#retried = true;
    if (!sent.startsWith(BEARER)) return false;
    const tokens = this.#policy.tokens;
    // Rejected: never served again, even when this request cannot be sent again.
    await tokens.invalidate(sent.slice(BEARER.length));
    // Re-sending is worth it only with another token (invalidate may keep one: see there).
    const again = this.#replayable && tokens.cachedAuthorizationHeader() !== sent;
    if (this.#policy.emit !== undefined)
      reportUnauthorized(this.#policy, again ? undefined : this.#replayable ? 'token_kept' : 'not_replayable');
    return again;
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

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
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
  let current = new URL(url);
  let hop = init;
  let response = await send(url, hop);
  for (let hops = 0; REDIRECT_STATUSES.has(response.status); hops++) {
    const location = response.headers.get('location');
    if (location === null) return response;
    const method = (hop.method ?? 'GET').toUpperCase();
    const toGet = response.status === 303 ? method !== 'HEAD' : response.status <= 302 && method === 'POST';
    if (!toGet && !replayable) return response; // a stream cannot be sent again
    if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${new URL(url).origin}`);
    await response.arrayBuffer?.().catch(() => undefined); // frees the connection
    const next = new URL(location, current);
    const sameOrigin = next.origin === current.origin;
    const keepOurs = request.redirect(next);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(hop.headers)) {
      const lower = name.toLowerCase();
      const ours = lower === 'authorization' && value === request.sent;
      const keep = ours ? keepOurs : sameOrigin || !CREDENTIALS.has(lower);
      if (keep && !(toGet && BODY_HEADERS.has(lower))) headers[name] = value;
    }
    if (toGet) {
      const { body: _dropped, ...rest } = hop;
      hop = { ...rest, method: 'GET', headers };
    } else hop = { ...hop, headers };
    current = next;
    response = await send(current.href, hop);
  }
  return response;
}
