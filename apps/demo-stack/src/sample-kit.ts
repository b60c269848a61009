// The demo scaffolding every sample (apps/<x>-sample/src/main.ts) shares, so a
// sample's main.ts holds only what a user would copy: the token provider, the
// HTTP client with its tokenkit adapter, and the calls. The kit reads the
// environment, narrates with timestamps, runs the demo's three steps around the
// sample's calls and checks them, revokes a token through the demo API's admin
// endpoint, and prints the report line `demo.ts` parses (see README.md).
//
// It depends on no tokenkit package: it sees the token provider only through
// the few members it uses, and the sample passes its adapter's isTokenKitError.
import { setTimeout as sleep } from 'node:timers/promises';

/** A payment as the demo's payments API answers it. */
export interface Payment {
  id: string;
  amount: number;
  currency: string;
  status: string;
}

/** The figures of the report line. */
export interface Tally {
  /** Requests the sample's code made to the payments API (a 401 retry is part of its call). */
  apiCalls: number;
  /** Token endpoint answers: the provider's `fetch` events. */
  tokensFetched: number;
  /** Calls re-sent after a 401: the provider's `invalidate` events. */
  retries: number;
  /** Calls that failed plus checks that did not hold. */
  failures: number;
}

/** What the kit reads of a token provider event; core's `TokenEvent` is assignable to it. */
export interface ProviderEvent {
  type: string;
  expiresAt?: number;
  background?: boolean;
  /** `fetch`: how long the token request took. */
  durationMs?: number;
  /** `invalidate`: whether the token was dropped. */
  dropped?: boolean;
  error?: { message: string };
}

/** What the kit uses of a token provider. */
export interface TokenSource {
  getToken(): Promise<{ accessToken: string }>;
}

export interface SampleOptions {
  /** The sample's name: `axios` for apps/axios-sample. The report line's `sample`. */
  name: string;
  /** The adapter's `isTokenKitError`: a call that failed for want of a token is explained by the error's name, code and message. */
  isTokenKitError?: (error: unknown) => error is Error & { code: string };
  /** How the HTTP client's own errors read in the narration, e.g. `404 Request failed ...`; `undefined` for other errors. */
  describeError?: (error: unknown) => string | undefined;
  /** What the narration calls the requests to the payments API. Default `API calls`. */
  apiCalls?: string;
  /** Where a missing variable's message points. Default `apps/<name>-sample/README.md`. */
  readme?: string;
}

/** The payments API's four calls, as a REST sample makes them with its client. */
export interface PaymentCalls {
  list(): Promise<unknown>;
  /** Creates a payment and resolves with it (its `id` is read and refunded next). */
  create(amount: number): Promise<Pick<Payment, 'id'>>;
  read(id: string): Promise<unknown>;
  refund(id: string): Promise<unknown>;
}

export interface Sample {
  /** The figures of the report line. `apiCalls` is counted by {@link Sample.call}, or by the sample itself. */
  readonly tally: Tally;
  /** An environment variable; empty counts as unset. */
  env(name: string): string | undefined;
  /** An environment variable the sample cannot run without: exits 2, pointing at the sample's README, when unset. */
  need(name: string): string;
  /** The provider's `onEvent`: counts token fetches and 401 retries, narrates fetches and failures. */
  onTokenEvent(event: ProviderEvent): void;
  /** Prints one narration line, prefixed with the seconds since the start. */
  say(line: string): void;
  /** Prints a check's outcome; one that does not hold counts as a failure. */
  check(ok: boolean, what: string): void;
  /** Counts a failure and prints it. */
  fail(what: string): void;
  /** Makes one API call: counted, and a failure is counted and explained, never thrown (the result is then `undefined`). */
  call<T>(request: () => Promise<T>): Promise<T | undefined>;
  /** Step 1: `calls` runs concurrent calls on a cold cache; they must share one token request. */
  coldCache(what: string, calls: () => Promise<unknown>): Promise<void>;
  /** Step 2: runs `round(1)`, `round(2)`, ... 200 ms apart until two tokens have expired (30 s at most). */
  untilTwoTokensExpired(what: string, round: (n: number) => Promise<unknown>): Promise<void>;
  /** Step 3: the API refuses the token in use; each call `calls` makes must get a 401 and be retried once with a new token. */
  afterRevocation(tokens: TokenSource, calls: () => Promise<unknown>): Promise<void>;
  /**
   * Steps 1 to 3 for a REST sample: ten concurrent lists on a cold cache; create, read, refund and list, three calls
   * at a time, until two tokens have expired; three lists after the API revoked the token in use.
   */
  paymentSteps(calls: PaymentCalls, tokens: TokenSource): Promise<void>;
  /**
   * Prints the summary and the report line, and sets the exit code: 1 after any failure. With `skipped` (why),
   * the line says the demo step could not run here, which is not a failure.
   */
  report(skipped?: string): void;
}

/**
 * Starts a sample's narration and counting.
 *
 * @example
 * ```ts
 * const demo = startSample({ name: 'axios', isTokenKitError });
 * const tokens = createTokenProvider({ tokenEndpoint: demo.need('TOKEN_URL'), ..., onEvent: demo.onTokenEvent });
 * await demo.paymentSteps({ list, create, read, refund }, tokens); // the four calls, made with the sample's client
 * demo.report();
 * ```
 */
export function startSample(options: SampleOptions): Sample {
  const { name, isTokenKitError, describeError } = options;
  const apiCalls = options.apiCalls ?? 'API calls';
  const started = Date.now();
  const tally: Tally = { apiCalls: 0, tokensFetched: 0, retries: 0, failures: 0 };
  const expiries: number[] = []; // when each token fetched so far expires
  let backgroundFetches = 0; // tokens renewed ahead of time, while the previous one still served
  let refreshing = 0; // such renewals under way
  const fetches: { startedAt: number; at: number }[] = []; // each token request: when it started and answered
  let lastDropAt: number | undefined; // when the provider last dropped a token after a 401

  const say = (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  const check = (ok: boolean, what: string) => {
    if (!ok) tally.failures++;
    say(`${ok ? '✓' : '✗'} ${what}`);
  };
  const fail = (what: string) => {
    tally.failures++;
    say(what);
  };
  const env = (variable: string) => process.env[variable] || undefined;
  const need = (variable: string): string => {
    const value = env(variable);
    if (value === undefined) {
      console.error(`${variable} is not set. See ${options.readme ?? `apps/${name}-sample/README.md`}.`);
      process.exit(2);
    }
    return value;
  };
  const expired = () => expiries.filter((expiresAt) => expiresAt <= Date.now()).length;

  /**
   * Demo stack only: asks the payments API to refuse the token the provider
   * currently serves (by its `jti`), as a real API would after revocation. A
   * renewal under way would replace that token before the next calls: then wait
   * for it and revoke the new token.
   */
  const revokeCurrentToken = async (tokens: TokenSource) => {
    let { accessToken } = await tokens.getToken();
    while (refreshing > 0) {
      await sleep(10);
      ({ accessToken } = await tokens.getToken());
    }
    const { jti } = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      jti?: string;
    };
    const res = await fetch(new URL('/admin/revoke', need('API_URL')), {
      method: 'POST',
      body: JSON.stringify({ jti }),
    });
    if (res.status !== 204) throw new Error(`the demo API did not revoke the token: ${res.status}`);
  };

  const sample: Sample = {
    tally,
    env,
    need,
    say,
    check,
    fail,

    onTokenEvent(event) {
      if (event.type === 'fetch') {
        const expiresAt = event.expiresAt ?? Date.now();
        tally.tokensFetched++;
        expiries.push(expiresAt);
        fetches.push({ startedAt: Date.now() - (event.durationMs ?? 0), at: Date.now() });
        if (event.background) {
          backgroundFetches++;
          refreshing--;
        }
        const life = ((expiresAt - Date.now()) / 1000).toFixed(1);
        say(
          `token #${tally.tokensFetched} fetched ${event.background ? 'in the background' : 'on demand'}, expires in ${life} s`,
        );
      } else if (event.type === 'invalidate') {
        tally.retries++; // the adapter dropped a token the API refused and re-sends the call once
        if (event.dropped) lastDropAt = Date.now();
      } else if (event.type === 'refresh') {
        refreshing++;
      } else if (event.type === 'error') {
        if (event.background) refreshing--;
        say(`token request failed: ${event.error?.message ?? 'unknown error'}`);
      }
    },

    async call<T>(request: () => Promise<T>): Promise<T | undefined> {
      tally.apiCalls++;
      try {
        return await request();
      } catch (error) {
        // Errors from the token provider are TokenKitErrors with a stable code; none contains a secret or a token.
        if (isTokenKitError?.(error)) fail(`call failed, no token: ${error.name} ${error.code}: ${error.message}`);
        else fail(`call failed: ${describeError?.(error) ?? String(error)}`);
        return undefined;
      }
    },

    async coldCache(what, calls) {
      say(`1. ${what} on a cold cache`);
      const before = tally.apiCalls;
      await calls();
      // The calls share the token requests that started before the first token arrived. On a very busy machine the
      // last calls may go out after that token's short demo life is over: a new token for them is not a cold start.
      const firstAnswer = fetches[0]?.at ?? Number.POSITIVE_INFINITY;
      const cold = fetches.filter((f) => f.startedAt <= firstAnswer).length;
      const later = tally.tokensFetched - cold;
      check(
        cold === 1,
        `${tally.apiCalls - before} concurrent ${apiCalls} shared ${plural(cold, 'token request')}` +
          (later > 0
            ? ` (then ${later} more: the machine is so busy that the calls outlived that token's demo life)`
            : ''),
      );
    },

    async untilTwoTokensExpired(what, round) {
      say(`2. ${what}, until two tokens have expired`);
      const firstToken = tally.tokensFetched;
      for (let n = 1; expired() < 2 && Date.now() - started < 30_000; n++) {
        await round(n);
        await sleep(200);
      }
      check(
        expired() >= 2,
        `${expired()} tokens expired while calls went on; ${backgroundFetches} of the ${tally.tokensFetched - firstToken} newer ones were fetched in the background`,
      );
    },

    async afterRevocation(tokens, calls) {
      say(`3. the API revokes the token in use; the next ${apiCalls} get 401`);
      // core keeps a token that replaced a rejected one if it is rejected again within 10 s (an API that rejects every
      // token must not drive a token request per 401). Earlier 401s (expired tokens on a busy machine) start that
      // clock: let it run out, so this step shows the ordinary retry.
      const cooldown = lastDropAt === undefined ? 0 : lastDropAt + 10_500 - Date.now();
      if (cooldown > 0) {
        say(`(waiting ${(cooldown / 1000).toFixed(1)} s: a token that replaced a rejected one is kept for 10 s)`);
        await sleep(cooldown);
      }
      const before = { ...tally };
      const backgroundBefore = backgroundFetches;
      await revokeCurrentToken(tokens);
      await calls();
      // A renewal that was due anyway may land in this step too: the narration tells the two kinds apart.
      const fetched = tally.tokensFetched - before.tokensFetched;
      const background = backgroundFetches - backgroundBefore;
      check(
        tally.failures === before.failures && tally.retries > before.retries && fetched > 0,
        `${tally.retries - before.retries} ${apiCalls} got 401 and were each retried once; ` +
          `${plural(fetched, 'new token')} fetched meanwhile (${fetched - background} on demand, ${background} in the background)`,
      );
    },

    async paymentSteps(calls, tokens) {
      const list = () => sample.call(() => calls.list());
      await sample.coldCache('ten concurrent calls', () => Promise.all(Array.from({ length: 10 }, list)));
      await sample.untilTwoTokensExpired('create, read and refund payments, 3 calls at a time', async (round) => {
        const created = await sample.call(() => calls.create(round * 10));
        if (created === undefined) return;
        await Promise.all([
          sample.call(() => calls.read(created.id)),
          sample.call(() => calls.refund(created.id)),
          list(),
        ]);
      });
      await sample.afterRevocation(tokens, () => Promise.all(Array.from({ length: 3 }, list)));
    },

    report(skipped) {
      if (skipped !== undefined) say(`skipped: ${skipped}`);
      else
        say(
          `done: ${tally.apiCalls} ${apiCalls}, ${plural(tally.tokensFetched, 'token')} fetched, ${tally.retries} retried after 401, ${plural(tally.failures, 'failure')}`,
        );
      const line = { report: 'tokenkit-sample', sample: name, ...tally, ...(skipped === undefined ? {} : { skipped }) };
      console.log(JSON.stringify(line));
      process.exitCode = tally.failures === 0 ? 0 : 1;
    },
  };
  return sample;
}

/** `1 token`, `2 tokens`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
