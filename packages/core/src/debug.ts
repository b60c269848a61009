/**
 * Debug output (`TOKENKIT_DEBUG=1` or the `debug` option): the provider's events as one readable line each. It is an
 * observer like any `onEvent`, so the provider has no second code path for it, and a provider without it pays
 * nothing. Events carry no secret by construction; each line is still scrubbed of every secret in the configuration,
 * in every encoding (`scrub.ts`), in case a server's text quoted one in a form core did not expect.
 */
import type { TokenEvent } from './options.ts';
import { scrub } from './scrub.ts';

type Observer = (event: TokenEvent) => void;

/** True when the environment asks for debug output. `process` may not exist (edge runtimes) or may throw (Deno). */
export function debugFromEnvironment(): boolean {
  try {
    const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[
      'TOKENKIT_DEBUG'
    ];
    return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
  } catch {
    return false;
  }
}

/** Writes a line to stderr, or to `console.error` where there is no `process.stderr`. */
function toStderr(line: string): void {
  const stderr = (globalThis as { process?: { stderr?: { write?: (text: string) => unknown } } }).process?.stderr;
  if (typeof stderr?.write === 'function') stderr.write(line + '\n');
  else console.error(line);
}

/**
 * The `Basic` credentials as they travel, before base64 (both encodings): scrubbing them also removes their base64,
 * which is what a server echoing the `Authorization` header would show.
 */
export function basicCredentials(clientId: string, clientSecret: string | undefined): string[] {
  if (clientSecret === undefined || clientSecret === '') return [];
  const form = (value: string) => new URLSearchParams([['', value]]).toString().slice(1);
  return [`${form(clientId)}:${form(clientSecret)}`, `${clientId}:${clientSecret}`];
}

/**
 * `onEvent` with debug output added when `debug` (or, when it is undefined, the environment) asks for it.
 * `secrets` is called once, when the output is on.
 */
export function withDebugOutput(
  onEvent: Observer | undefined,
  debug: boolean | ((line: string) => void) | undefined,
  secrets: () => readonly (string | undefined)[],
): Observer | undefined {
  const on = debug === undefined ? debugFromEnvironment() : debug !== false;
  if (!on) return onEvent;
  const log = debugObserver(typeof debug === 'function' ? debug : toStderr, secrets());
  if (onEvent === undefined) return log;
  return (event) => {
    try {
      onEvent(event);
    } finally {
      log(event);
    }
  };
}

/** Turns events into lines. Cache hits are counted, not logged one by one: the first after each new token is shown. */
export function debugObserver(write: (line: string) => void, secrets: readonly (string | undefined)[]): Observer {
  let hits = 0;
  let hitShown = false;
  const emit = (key: string, text: string) => {
    const line = `${new Date().toISOString()} tokenkit[${key.slice(4, 12)}] ${text}`;
    try {
      write(scrub(line, secrets));
    } catch {
      // A failing sink must not fail token acquisition.
    }
  };
  return (event) => {
    if (event.type === 'hit') {
      if (hitShown) return void hits++;
      hitShown = true;
      return emit(event.key, 'cache hit: served from memory (further hits are counted, not logged)');
    }
    if (event.type === 'request_end' || event.type === 'store_hit') hitShown = false;
    const text = describe(event);
    if (text === undefined) return;
    if (hits > 0) {
      emit(event.key, `${hits} more cache hit${hits === 1 ? '' : 's'}`);
      hits = 0;
    }
    emit(event.key, text);
  };
}

const time = (epochMs: number) => new Date(epochMs).toISOString();
const scopeText = (scope: readonly string[] | undefined) =>
  scope === undefined ? 'not stated (as requested)' : scope.length === 0 ? 'none' : JSON.stringify(scope.join(' '));
const errorText = (error: { code: string; message: string }) => `${error.code}: ${error.message}`;
const inSeconds = (expiresAt: number) => Math.round((expiresAt - Date.now()) / 1000);

const WITHHELD = {
  origin_not_allowed: "its origin is neither the client's base URL nor in `origins`",
  caller_authorization: 'the caller set their own Authorization header',
  lost_on_redirect: 'an earlier redirect hop went to another origin; the token never comes back',
} as const;

const NOT_RETRIED = {
  not_ours: 'the hop that answered did not carry our token',
  already_retried: 'the request was already retried once',
  retry_disabled: 'retryOn401 is false',
  not_replayable: 'the token was invalidated, but the body is a stream and cannot be sent again',
  token_kept: 'no other token to send (the token replacing a rejected one is kept for 10 s)',
} as const;

/** One event as a sentence; undefined for events another line already tells. */
function describe(event: TokenEvent): string | undefined {
  switch (event.type) {
    case 'hit':
    case 'fetch': // told by request_end
    case 'attempt_start': // told by attempt_end
      return undefined;
    case 'miss':
      return 'cache miss: no token to serve at once; waiting for one';
    case 'refresh':
      return `refresh ahead: the token expires at ${time(event.expiresAt)}; fetching a new one in the background`;
    case 'retry':
      return `retrying in ${event.delayMs} ms after ${event.status === undefined ? event.reason : `HTTP ${event.status}`} (attempt ${event.attempt} failed)`;
    case 'error':
      return event.error.code === 'store'
        ? `store: ${event.error.message}`
        : `getting a token failed after ${Math.round(event.durationMs)} ms${event.background ? ' (background refresh: the current token stays in service)' : ''}: ${errorText(event.error)}`;
    case 'store_hit':
      return `store hit: took the token from the store (expires at ${time(event.expiresAt)}, in ${inSeconds(event.expiresAt)} s)`;
    case 'store_recovered':
      return 'store: answers again';
    case 'invalidate':
      return event.dropped
        ? 'invalidate(): dropped the cached token; the next call fetches a new one'
        : 'invalidate(): kept the cached token (not the one rejected, or it replaced a rejected one less than 10 s ago)';
    case 'refresh_token_dropped':
      return `refresh token dropped (${event.reason}); using the configured grant instead`;
    case 'scope_narrowed':
      return `the server granted fewer scopes than requested: ${JSON.stringify(event.missing.join(' '))} missing (granted ${JSON.stringify(event.granted.join(' '))})`;
    case 'discovery_start':
      return `discovery #${event.id}: fetching the metadata of issuer ${event.issuer}`;
    case 'discovery_end':
      return event.error !== undefined
        ? `discovery #${event.id} failed after ${Math.round(event.durationMs)} ms: ${errorText(event.error)}`
        : `discovery #${event.id}: token endpoint ${event.tokenEndpoint}, client authentication methods ${event.authMethods === undefined ? 'not listed' : event.authMethods.join(', ')}; using ${event.clientAuth} (${event.clientAuthReason}), ${Math.round(event.durationMs)} ms`;
    case 'request_start':
      return `token request #${event.id}: grant ${event.grant} to ${event.endpoint}, client ${JSON.stringify(event.clientId)} with ${event.clientAuth} (${event.clientAuthReason}), ${event.scope.length === 0 ? 'no scope' : `scope ${scopeText(event.scope)}`}${event.background ? ', in the background' : ''}`;
    case 'attempt_end':
      return `${event.operation === 'token' ? 'token request' : 'discovery'} #${event.id} attempt ${event.attempt}: ${event.method} ${event.url} → ${event.status === undefined ? `no answer (${event.errorCode})` : `HTTP ${event.status}`} in ${Math.round(event.durationMs)} ms`;
    case 'request_end':
      return event.error !== undefined
        ? `token request #${event.id} failed after ${event.attempts} attempt${event.attempts === 1 ? '' : 's'}, ${Math.round(event.durationMs)} ms: ${errorText(event.error)}`
        : `token request #${event.id}: got a token expiring at ${time(event.expiresAt ?? 0)} (in ${inSeconds(event.expiresAt ?? 0)} s), granted scope ${scopeText(event.grantedScope)}, ${event.attempts} attempt${event.attempts === 1 ? '' : 's'}, ${Math.round(event.durationMs)} ms`;
    case 'authorize':
      return event.sent
        ? `request to ${event.url}: token sent`
        : `request to ${event.url}: no token (${WITHHELD[event.reason ?? 'origin_not_allowed']})`;
    case 'redirect':
      return event.kept
        ? `redirect to ${event.url}: token kept (an allowed origin)`
        : `redirect to ${event.url}: token removed (not an allowed origin); later hops go without it`;
    case 'unauthorized':
      return event.retried
        ? 'API answered 401 to our token: invalidated it; sending the request again with a new token'
        : `API answered 401; not retried: ${NOT_RETRIED[event.reason ?? 'not_ours']}`;
  }
}
