import { parseArgs } from 'node:util';
import {
  createTokenProvider,
  isOAuthError,
  isTokenEndpointError,
  isTokenKitError,
  type TokenProviderOptions,
} from '@tokenkit/core';
import { lastTokenExchange, responseJson, runAttempt, type Attempt, type Variant } from './attempt.ts';
import { CONFIG_FLAGS, CONFIG_HELP, readConfig, type CliConfig } from './config.ts';
import { EXIT, type Output } from './io.ts';
import { decodeJwt, duration } from './jwt.ts';
import { checkHost, type Finding } from './network.ts';
import type { AuthSeen, Exchange } from './observe.ts';

/** `tokenkit doctor --help`. */
export const DOCTOR_HELP = `Usage: tokenkit doctor [--all-methods] [--strict] [configuration]

Checks a provider configuration end to end with @tokenkit/core and says what it found: discovery and what the
metadata advertises, DNS and TLS of the token endpoint, which client authentication works (on invalid_client it
tries the others: Basic form-encoded as RFC 6749 asks, Basic unencoded, client_secret_post, private_key_jwt with a
key), the granted scope against the requested one, token_type, the lifetime and where it comes from, the server's
clock skew, and the createTokenProvider options to use. Every secret is masked. The report goes to stdout,
progress to stderr. Each client authentication tried is one token request.

Options:
  --all-methods   try every client authentication method, also when the configured one works
  --strict        exit 1 on warnings too (a narrowed scope, a large clock skew, a short lifetime, ...)
  -h, --help      this text

${CONFIG_HELP}

Exit codes: 0 the configuration works as given; 1 it does not (the report says what would), or with --strict a
warning; 2 usage error (the configuration cannot even be built: the message names the setting).`;

/** Runs `tokenkit doctor`. */
export async function doctorCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  makeOutput: (quiet: boolean) => Output,
  readStdin: () => Promise<string>,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...CONFIG_FLAGS, 'all-methods': { type: 'boolean' }, strict: { type: 'boolean' } },
    allowPositionals: false,
  });
  const out = makeOutput(values.quiet === true);
  if (values.help === true) {
    out.result(DOCTOR_HELP);
    return EXIT.ok;
  }
  const config = await readConfig(values, env, out, readStdin);
  // Options are checked before anything is sent: a ConfigurationError here is a usage error (exit 2).
  createTokenProvider({ ...config.options, fetch: () => Promise.reject(new Error('not used')) });
  const doctor = new Doctor(out, config, values['all-methods'] === true);
  const works = await doctor.run();
  if (!works) return EXIT.failure;
  return values.strict === true && doctor.warnings > 0 ? EXIT.failure : EXIT.ok;
}

const MARK: Record<Finding['level'], string> = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', info: '    ' };

class Doctor {
  readonly #out: Output;
  readonly #config: CliConfig;
  readonly #allMethods: boolean;
  warnings = 0;
  failures = 0;

  constructor(out: Output, config: CliConfig, allMethods: boolean) {
    this.#out = out;
    this.#config = config;
    this.#allMethods = allMethods;
  }

  get #options(): TokenProviderOptions {
    return this.#config.options;
  }

  #section(title: string): void {
    this.#out.line();
    this.#out.line(title);
  }

  #say(level: Finding['level'], text: string): void {
    if (level === 'warn') this.warnings++;
    if (level === 'fail') this.failures++;
    const [first, ...more] = text.split('\n');
    this.#out.line(`  ${MARK[level]}  ${first}`);
    for (const line of more) this.#out.line(`        ${line}`);
  }

  /** Runs every check and prints the report; true when the configuration works as given. */
  async run(): Promise<boolean> {
    this.#printConfiguration();
    const first = await runAttempt(this.#options, this.#out);

    const tokenEndpoint = await this.#discovery(first);
    const target = tokenEndpoint ?? String(this.#options.issuer ?? this.#options.tokenEndpoint);
    this.#section(`Network (${new URL(target).host})`);
    for (const finding of await checkHost(new URL(target), this.#options.timeoutMs ?? 10_000)) {
      this.#say(finding.level, finding.text);
    }

    this.#section('Client authentication');
    let configured = first;
    let tokenTypeFix = false;
    if (first.token === undefined && (await missingTokenType(first))) {
      // Core refuses an answer without token_type unless told to take it as Bearer: check the rest with that option.
      tokenTypeFix = true;
      configured = await runAttempt(this.#options, this.#out, { defaultTokenType: 'Bearer' });
    }
    const how = this.#options.clientAuthMethod === undefined ? 'chosen by tokenkit' : 'as configured';
    this.#reportAttempt(configured, tokenTypeFix ? `, ${how}, plus defaultTokenType: 'Bearer'` : `, ${how}`);
    let working: Attempt | undefined = configured.token !== undefined ? configured : undefined;
    let tried = 0;
    const fallback = tokenTypeFix ? ({ defaultTokenType: 'Bearer' } as const) : {};
    if (tokenEndpoint !== undefined && (this.#allMethods || (working === undefined && authRefused(configured.error)))) {
      for (const variant of this.#alternatives(configured)) {
        tried++;
        const attempt = await runAttempt(this.#options, this.#out, { ...variant, ...fallback, tokenEndpoint });
        this.#reportAttempt(attempt, '');
        if (working === undefined && attempt.token !== undefined) working = attempt;
      }
    } else if (working === undefined && !authRefused(configured.error)) {
      this.#say('info', 'other methods not tried: this failure is not about client authentication');
    }

    if (working !== undefined) await this.#tokenSection(working);
    if (working !== undefined) this.#snippet(working, tokenEndpoint);

    const asGiven = first.token !== undefined;
    this.#out.line();
    if (asGiven) {
      const notes = this.warnings > 0 ? ` (${this.warnings} warning${this.warnings === 1 ? '' : 's'} above)` : '';
      this.#out.line(`Result: the configuration works${notes}.`);
    } else if (working !== undefined) {
      this.#out.line(
        `Result: the configuration as given gets no token; with ${describeFix(working, this.#options)} it does: ` +
          'use the options above.',
      );
    } else if (tried > 0 && authRefused(configured.error)) {
      this.#out.line(
        `Result: no token: the server refused all ${tried + 1} ways of client authentication tried. The client id ` +
          'or secret (or key) is likely wrong, or the client is disabled or not allowed this grant.',
      );
    } else {
      this.#out.line(`Result: no token. ${explain(configured.error)}`);
    }
    return asGiven;
  }

  #printConfiguration(): void {
    const o = this.#options;
    const { sources } = this.#config;
    const from = (key: keyof CliConfig['sources']) => (sources[key] === undefined ? '' : `  (${sources[key]})`);
    this.#out.line('tokenkit doctor');
    this.#section('Configuration');
    const rows: [string, string][] = [];
    if (o.issuer !== undefined) rows.push(['issuer', `${String(o.issuer)}${from('issuer')}`]);
    if (o.tokenEndpoint !== undefined)
      rows.push(['token endpoint', `${String(o.tokenEndpoint)}${from('tokenEndpoint')}`]);
    rows.push(['client id', `${o.clientId ?? ''}${from('clientId')}`]);
    rows.push([
      'client secret',
      o.clientSecret === undefined ? 'none' : `set, ${o.clientSecret.length} characters${from('clientSecret')}`,
    ]);
    if (this.#config.privateKeyFile !== undefined) rows.push(['private key', `${this.#config.privateKeyFile}`]);
    rows.push([
      'authentication',
      o.clientAuthMethod ??
        (o.issuer !== undefined
          ? 'not set: client_secret_basic, or client_secret_post if the metadata does not list Basic'
          : 'not set: client_secret_basic'),
    ]);
    if (o.basicEncoding !== undefined) rows.push(['basic encoding', o.basicEncoding]);
    if (o.bodyFormat !== undefined) rows.push(['body format', o.bodyFormat]);
    rows.push(['grant', o.grant?.type === 'password' ? `password, user ${o.grant.username}` : 'client_credentials']);
    rows.push(['scope', scopeList(o.scope).join(' ') || 'none requested']);
    if (o.audience !== undefined) rows.push(['audience', o.audience]);
    if (o.resource !== undefined) rows.push(['resource', ([] as string[]).concat(o.resource).join(' ')]);
    if (o.extraParams !== undefined) rows.push(['extra parameters', Object.keys(o.extraParams).join(', ')]);
    for (const [name, value] of rows) this.#out.line(`  ${name.padEnd(16)}  ${value}`);
    if (sources.clientSecret === '--client-secret') {
      this.#say('warn', 'the client secret was given as a flag value: it is in your shell history now');
    }
  }

  /** Reports discovery; returns the token endpoint (configured or discovered), if known. */
  async #discovery(first: Attempt): Promise<string | undefined> {
    this.#section('Discovery');
    if (this.#options.issuer === undefined) {
      this.#say('info', 'not used: the token endpoint is configured');
      return String(this.#options.tokenEndpoint);
    }
    const lookups = first.exchanges.filter((e) => e.kind === 'discovery');
    let metadata: Record<string, unknown> | undefined;
    for (const e of lookups) {
      const took = e.answeredAt === undefined ? '' : ` in ${e.answeredAt - e.sentAt} ms`;
      if (e.status === undefined) this.#say('info', `${e.url}: no answer (${e.failure ?? 'network error'})`);
      else {
        const location = e.headers?.get('location');
        const redirect = location === null || location === undefined ? '' : ` to ${location}`;
        this.#say('info', `${e.url}: HTTP ${e.status}${redirect}${took}`);
        if (e.status >= 200 && e.status < 300) metadata = await responseJson(e);
      }
    }
    const failed = isTokenKitError(first.error) && ['discovery_failed', 'insecure_endpoint'].includes(first.error.code);
    if (failed) {
      this.#say('fail', (first.error as Error).message);
      return undefined;
    }
    if (metadata === undefined) {
      // Core may have failed before discovery finished (a timeout): nothing was learnt.
      if (first.token === undefined) this.#say('fail', 'no metadata document was read');
      return undefined;
    }
    const endpoint = typeof metadata['token_endpoint'] === 'string' ? metadata['token_endpoint'] : undefined;
    this.#say('ok', `metadata found; issuer ${String(metadata['issuer'])} matches`);
    this.#say('info', `token endpoint: ${endpoint ?? '(none)'}`);
    const methods = stringList(metadata['token_endpoint_auth_methods_supported']);
    const grants = stringList(metadata['grant_types_supported']);
    const scopes = stringList(metadata['scopes_supported']);
    this.#say(
      'info',
      `client authentication: ${methods?.join(', ') ?? 'not listed (RFC 8414 default: client_secret_basic)'}`,
    );
    this.#say('info', `grants: ${grants?.join(', ') ?? 'not listed (default: authorization_code, implicit)'}`);
    if (scopes !== undefined) this.#say('info', `scopes: ${scopes.join(' ')}`);
    const method = this.#options.clientAuthMethod;
    if (method !== undefined && methods !== undefined && !methods.includes(method)) {
      this.#say('warn', `the configured ${method} is not among the advertised client authentication methods`);
    }
    const grant = this.#options.grant?.type ?? 'client_credentials';
    if (grants !== undefined && !grants.includes(grant))
      this.#say('warn', `${grant} is not among the advertised grants`);
    const unknown = scopes === undefined ? [] : scopeList(this.#options.scope).filter((s) => !scopes.includes(s));
    if (unknown.length > 0) {
      this.#say('warn', `requested scope not advertised: ${unknown.join(' ')} (servers need not list every scope)`);
    }
    return endpoint;
  }

  #reportAttempt(attempt: Attempt, suffix: string): void {
    const seen = lastTokenExchange(attempt);
    const label = `${seen?.auth === undefined ? describeVariant(attempt) : describeAuth(seen.auth)}${suffix}`;
    if (attempt.token !== undefined) {
      const took = seen?.answeredAt === undefined ? '' : ` in ${seen.answeredAt - seen.sentAt} ms`;
      this.#say('ok', `${label}: a token${took}`);
    } else if (seen === undefined) {
      this.#say('fail', `${label}: no token request was sent\n${explain(attempt.error)}`);
    } else {
      const status =
        seen.status === undefined ? `no answer (${seen.failure ?? 'network error'})` : `HTTP ${seen.status}`;
      this.#say('fail', `${label}: ${status}\n${explain(attempt.error)}`);
    }
  }

  /** The client authentication methods to try after `tried`: every one the configuration has what it needs for. */
  #alternatives(tried: Attempt): Variant[] {
    const o = this.#options;
    const seen = lastTokenExchange(tried)?.auth;
    const candidates: Variant[] = [];
    if (o.clientSecret !== undefined) {
      candidates.push({ clientAuthMethod: 'client_secret_basic', basicEncoding: 'form' });
      const clientId = o.clientId ?? '';
      const encodingMatters =
        !clientId.includes(':') && (encodeForm(clientId) !== clientId || encodeForm(o.clientSecret) !== o.clientSecret);
      if (encodingMatters) candidates.push({ clientAuthMethod: 'client_secret_basic', basicEncoding: 'plain' });
      candidates.push({ clientAuthMethod: 'client_secret_post' });
    }
    if (o.privateKey !== undefined) candidates.push({ clientAuthMethod: 'private_key_jwt' });
    return candidates.filter((v) => !sameAuth(v, seen, o));
  }

  async #tokenSection(attempt: Attempt): Promise<void> {
    this.#section('Token');
    const exchange = lastTokenExchange(attempt)!;
    const body = (await responseJson(exchange)) ?? {};
    const token = attempt.token!;

    const type = body['token_type'];
    if (typeof type !== 'string' || type === '') {
      this.#say(
        attempt.options.defaultTokenType === 'Bearer' && this.#options.defaultTokenType === undefined ? 'fail' : 'warn',
        "token_type: missing; tokenkit refuses such an answer unless told to take it as Bearer (defaultTokenType: 'Bearer')",
      );
    } else if (type === 'Bearer') this.#say('ok', 'token_type: Bearer');
    else this.#say('ok', `token_type: ${type} (tokenkit reads it as Bearer: the case does not matter)`);

    const requested = scopeList(this.#options.scope);
    const grantedText = body['scope'];
    if (typeof grantedText !== 'string') {
      this.#say(
        'info',
        requested.length === 0
          ? 'scope: none requested, none named in the answer'
          : 'scope: the answer does not name one; RFC 6749 §5.1 says it is then the one requested',
      );
    } else {
      const granted = grantedText.split(/\s+/).filter(Boolean);
      const missing = requested.filter((s) => !granted.includes(s));
      const extra = granted.filter((s) => !requested.includes(s));
      if (missing.length > 0) {
        this.#say('warn', `scope: granted "${granted.join(' ')}"; missing from the request: ${missing.join(' ')}`);
      } else if (requested.length === 0) this.#say('info', `scope: none requested; granted "${granted.join(' ')}"`);
      else this.#say('ok', `scope: granted as requested${extra.length > 0 ? `, plus ${extra.join(' ')}` : ''}`);
    }

    const lifetimeS = Math.round((token.expiresAt - exchange.sentAt) / 1000);
    const expiresIn = numeric(body['expires_in']);
    const access = typeof body['access_token'] === 'string' ? body['access_token'] : token.accessToken;
    const jwt = decodeJwt(access);
    const claims = jwt?.kind === 'jws' ? jwt.claims : undefined;
    const exp = typeof claims?.['exp'] === 'number' ? claims['exp'] : undefined;
    const iat = typeof claims?.['iat'] === 'number' ? claims['iat'] : undefined;
    const jwtLifetime = exp === undefined ? undefined : exp - (iat ?? Math.floor(exchange.sentAt / 1000));
    if (expiresIn !== undefined && expiresIn > 0) {
      const agree =
        jwtLifetime === undefined
          ? ''
          : Math.abs(jwtLifetime - expiresIn) <= 2
            ? '; the JWT exp agrees'
            : `; the JWT exp says ${jwtLifetime} s (tokenkit never serves it past exp)`;
      this.#say('ok', `lifetime: ${duration(expiresIn * 1000)}, from expires_in (${expiresIn})${agree}`);
    } else if (exp !== undefined) {
      const why = expiresIn === 0 ? 'expires_in is 0' : 'no expires_in';
      this.#say(
        'ok',
        `lifetime: ${duration(jwtLifetime! * 1000)}, from the JWT exp (${why}; exp - iat = ${jwtLifetime} s)`,
      );
    } else {
      const assumed = this.#options.defaultExpiresInSeconds ?? 300;
      this.#say(
        'warn',
        `lifetime: unknown, neither expires_in nor a JWT exp; tokenkit assumes ${assumed} s (defaultExpiresInSeconds)`,
      );
    }
    if (lifetimeS > 0 && lifetimeS < 60) {
      this.#say('warn', `a lifetime under 60 s (twice refreshSkewSeconds) is served for half its life only`);
    }
    if (jwt?.kind === 'jws') {
      const parts = ['alg', 'typ'].map((k) => jwt.header[k]).filter((v) => typeof v === 'string');
      const about = ['iss', 'aud', 'scope', 'scp', 'azp', 'client_id']
        .filter((k) => claims?.[k] !== undefined)
        .map((k) => `${k} ${typeof claims![k] === 'string' ? claims![k] : JSON.stringify(claims![k])}`);
      this.#say(
        'info',
        `the access token is a JWT (${parts.join(', ')})${about.length > 0 ? `: ${about.join('; ')}` : ''}` +
          '\n(tokenkit token | tokenkit inspect shows all its claims)',
      );
      this.#audience(claims);
    } else if (jwt?.kind === 'jwe') this.#say('info', 'the access token is an encrypted JWT (JWE)');
    else this.#say('info', `the access token is opaque (${access.length} characters)`);
    if (typeof body['refresh_token'] === 'string') {
      this.#say('info', 'a refresh token came with it: tokenkit renews with it first, then falls back to the grant');
    }
    this.#clock(exchange);
  }

  /** Whether the JWT's `aud` names what was asked for (`audience`, `resource`): APIs that check `aud` refuse it else. */
  #audience(claims: Record<string, unknown> | undefined): void {
    const o = this.#options;
    const requested = [...(o.audience === undefined ? [] : [o.audience]), ...([] as string[]).concat(o.resource ?? [])];
    const aud = claims?.['aud'];
    if (requested.length === 0 || aud === undefined) return;
    const named = typeof aud === 'string' ? [aud] : (stringList(aud) ?? []);
    const missing = requested.filter((r) => !named.includes(r));
    if (missing.length === 0) this.#say('ok', `audience: the JWT's aud names ${requested.join(', ')}`);
    else {
      this.#say(
        'warn',
        `audience: the JWT's aud is ${named.join(', ') || '(empty)'}, not ${missing.join(', ')}: ` +
          'an API that checks aud will refuse it',
      );
    }
  }

  #clock(exchange: Exchange): void {
    const date = Date.parse(exchange.headers?.get('date') ?? '');
    if (Number.isNaN(date) || exchange.answeredAt === undefined) {
      this.#say('info', 'clock: the answer has no Date header, so the server clock cannot be compared');
      return;
    }
    // The Date header is whole seconds, cut down: the server's time was somewhere in [date, date + 1 s).
    const skewS = Math.round((date + 500 - (exchange.sentAt + exchange.answeredAt) / 2) / 1000);
    if (Math.abs(skewS) <= 2) {
      this.#say(
        'ok',
        `clock: the server's Date header agrees with this machine (within ${Math.max(1, Math.abs(skewS))} s)`,
      );
      return;
    }
    const which = skewS > 0 ? 'ahead of' : 'behind';
    const level = Math.abs(skewS) >= 60 ? 'warn' : 'info';
    this.#say(
      level,
      `clock: the server is ${duration(Math.abs(skewS) * 1000)} ${which} this machine (its Date header)` +
        (level === 'warn'
          ? '\nAPIs check exp and nbf on their own clock: fix whichever clock is wrong (NTP); tokenkit copes'
          : ''),
    );
  }

  #snippet(attempt: Attempt, discoveredEndpoint: string | undefined): void {
    const o = this.#options;
    const used = lastTokenExchange(attempt)?.auth;
    const lines: string[] = [];
    const add = (text: string) => lines.push(`  ${text}`);
    if (o.issuer !== undefined && discoveredEndpoint !== undefined) add(`issuer: ${lit(String(o.issuer))},`);
    else add(`tokenEndpoint: ${lit(String(o.tokenEndpoint ?? discoveredEndpoint))},`);
    add(`clientId: ${lit(o.clientId ?? '')},`);
    let fsImport = false;
    if (used?.method === 'client_secret_basic' || used?.method === 'client_secret_post') {
      add('clientSecret: process.env.CLIENT_SECRET, // from the environment or a secret store, never in code');
    }
    if (used !== undefined) add(`clientAuthMethod: ${lit(used.method)},`);
    if (used?.method === 'client_secret_basic' && used.encoding === 'plain') add(`basicEncoding: 'plain',`);
    if (used?.method === 'private_key_jwt') {
      fsImport = true;
      const read = `readFileSync(${lit(this.#config.privateKeyFile ?? 'private-key.pem')}, 'utf8')`;
      add(`privateKey: ${this.#config.privateKeyIsJwk ? `JSON.parse(${read})` : read},`);
    }
    if (o.bodyFormat === 'json') add(`bodyFormat: 'json',`);
    if (o.grant?.type === 'password') {
      add(`grant: { type: 'password', username: ${lit(o.grant.username)}, password: process.env.PASSWORD! },`);
    }
    const scope = scopeList(o.scope);
    if (scope.length > 0) add(`scope: [${scope.map(lit).join(', ')}],`);
    if (o.audience !== undefined) add(`audience: ${lit(o.audience)},`);
    if (o.resource !== undefined) {
      const list = ([] as string[]).concat(o.resource);
      add(`resource: ${list.length === 1 ? lit(list[0]!) : `[${list.map(lit).join(', ')}]`},`);
    }
    if (o.extraParams !== undefined) add(`extraParams: ${JSON.stringify(o.extraParams).replace(/"/g, "'")},`);
    if (attempt.options.defaultTokenType === 'Bearer') add(`defaultTokenType: 'Bearer',`);
    if (o.timeoutMs !== undefined) add(`timeoutMs: ${o.timeoutMs},`);
    this.#section('Use these options');
    if (fsImport) this.#out.line(`import { readFileSync } from 'node:fs';`);
    this.#out.line(`import { createTokenProvider } from '@tokenkit/core';`);
    this.#out.line();
    this.#out.line('const tokens = createTokenProvider({');
    for (const line of lines) this.#out.line(line);
    this.#out.line('});');
  }
}

function describeAuth(auth: AuthSeen): string {
  if (auth.method !== 'client_secret_basic') return auth.method;
  switch (auth.encoding) {
    case 'form':
      return 'client_secret_basic (id and secret form-encoded, RFC 6749)';
    case 'plain':
      return "client_secret_basic (id:secret unencoded, basicEncoding: 'plain')";
    default:
      return 'client_secret_basic';
  }
}

function describeVariant(attempt: Attempt): string {
  const seen = lastTokenExchange(attempt)?.auth;
  if (seen !== undefined) return describeAuth(seen);
  const method = attempt.options.clientAuthMethod ?? 'client_secret_basic';
  return method === 'client_secret_basic' && attempt.options.basicEncoding === 'plain'
    ? describeAuth({ method, encoding: 'plain' })
    : method;
}

/** What made an attempt work, for the result line: its client authentication and any option the doctor added. */
function describeFix(attempt: Attempt, configured: TokenProviderOptions): string {
  const added =
    attempt.options.defaultTokenType === 'Bearer' && configured.defaultTokenType === undefined
      ? " and defaultTokenType: 'Bearer'"
      : '';
  return describeVariant(attempt) + added;
}

function sameAuth(variant: Variant, seen: AuthSeen | undefined, options: TokenProviderOptions): boolean {
  const method = seen?.method ?? options.clientAuthMethod ?? 'client_secret_basic';
  if (variant.clientAuthMethod !== method) return false;
  if (method !== 'client_secret_basic') return true;
  const encoding =
    seen?.method === 'client_secret_basic' && (seen.encoding === 'form' || seen.encoding === 'plain')
      ? seen.encoding
      : (options.basicEncoding ?? 'form');
  return variant.basicEncoding === encoding;
}

/** Whether a failure may be about how the client authenticated, so another method is worth a try. */
function authRefused(error: unknown): boolean {
  if (isOAuthError(error)) return ['invalid_client', 'unauthorized_client', 'invalid_request'].includes(error.error);
  // Servers that answer a bad client with a bare 400/401/403 (Glewlwyd: 403 and an empty body).
  return isTokenEndpointError(error) && error.code === 'http_status' && [400, 401, 403].includes(error.status ?? 0);
}

async function missingTokenType(attempt: Attempt): Promise<boolean> {
  if (!isTokenEndpointError(attempt.error) || attempt.error.code !== 'invalid_response') return false;
  const exchange = lastTokenExchange(attempt);
  const body = exchange === undefined ? undefined : await responseJson(exchange);
  return typeof body?.['access_token'] === 'string' && (body['token_type'] === undefined || body['token_type'] === '');
}

/** A failure in plain words, with what to do about it. */
function explain(error: unknown): string {
  if (!isTokenKitError(error)) return error instanceof Error ? error.message : String(error);
  const message = error.message;
  if (isOAuthError(error)) {
    switch (error.error) {
      case 'invalid_client':
        return `${message}\nThe server does not accept this client id and secret (or key) this way.`;
      case 'invalid_scope':
        return `${message}\nThe client may not ask for this scope: check --scope against what the client is allowed.`;
      case 'unauthorized_client':
        return `${message}\nThe client is not allowed this grant: enable it for the client at the provider.`;
      case 'invalid_target':
        return `${message}\nThe server does not know this resource (or audience).`;
      default:
        return message;
    }
  }
  switch (error.code) {
    case 'network':
      return `${message}\nThe server could not be reached: see Network above.`;
    case 'timeout':
      return `${message}\nThe server is slow or unreachable; --timeout-ms raises the limit per attempt.`;
    case 'discovery_failed':
      return `${message}\nGive the token endpoint itself with --token-endpoint if the provider publishes no metadata.`;
    default:
      return message;
  }
}

function scopeList(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  return typeof scope === 'string' ? scope.split(/\s+/).filter(Boolean) : [...scope];
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

function numeric(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function encodeForm(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** A TypeScript string literal in the repository's style (single quotes). */
function lit(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
