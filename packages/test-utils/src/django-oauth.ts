import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { launch } from './launch.ts';

/** Debian's interpreter: the `python3` on PATH may be a pyenv shim that does not see Debian's packages. */
const PYTHON = '/usr/bin/python3';
const SERVE = fileURLToPath(new URL('../fixtures/django-oauth/serve.py', import.meta.url));
/** Migrated once per DOT/Django version and settings, then copied per launch (migrating takes about a second). */
const TEMPLATE_CACHE = join(tmpdir(), 'tokenkit-django-oauth-cache');

export interface DjangoOAuthClients {
  /**
   * A confidential client_credentials application. Its id holds a space and its secret `@ : / + %` and a space,
   * so RFC 6749 Appendix B form-encoding changes both: DOT 1.7 form-decodes Basic credentials (`unquote_plus`),
   * so it accepts them encoded and refuses them raw. client_secret_post works too.
   */
  credentials: { clientId: string; clientSecret: string };
  /** A confidential application with the password grant ("Resource owner password-based"), and its user. */
  password: { clientId: string; clientSecret: string; username: string; password: string };
}

export interface DjangoOAuthServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** What DOT's discovery document names as issuer: `http://127.0.0.1:<port>/o` (no trailing slash). */
  readonly issuer: string;
  /**
   * `{issuer}/.well-known/openid-configuration/`, with the trailing slash: DOT before 2.4 serves its metadata
   * only there; the spec's URL without the slash gets a 301 (Django's APPEND_SLASH) to this one.
   */
  readonly discoveryUrl: string;
  /** `{url}/o/token/`, as the discovery document names it. */
  readonly tokenEndpoint: string;
  /** `{url}/o/revoke_token/`: RFC 7009 revocation, with client authentication. */
  readonly revocationEndpoint: string;
  /** A protected API: 200 with JSON (`hello`, `client_id`, `scope`) for a valid token, 401 for any other. */
  readonly apiUrl: string;
  /** The same API behind DOT's own `ProtectedResourceView`: it answers 403 (empty body), not 401, to a bad token. */
  readonly dotGenericApiUrl: string;
  /** Access token lifetime the server was started with, in seconds. */
  readonly accessTokenTtl: number;
  readonly clients: DjangoOAuthClients;
  /**
   * Revokes a token at the revocation endpoint, authenticated as the password client with Basic. DOT 1.7 lets any
   * confidential client revoke any token, so this also revokes the credentials client's tokens. Revoking a refresh
   * token also deletes its access token; revoking an access token leaves its refresh token in the database.
   */
  revoke(token: string, hint?: 'access_token' | 'refresh_token'): Promise<void>;
  /** Provider options for the password client: its endpoint, credentials and grant (spread into createTokenProvider). */
  passwordGrant(): {
    tokenEndpoint: string;
    clientId: string;
    clientSecret: string;
    grant: { type: 'password'; username: string; password: string };
  };
  /** A password grant made by hand, outside tokenkit, as an operator would (its answer: access and refresh token). */
  passwordGrantByHand(): Promise<{ access_token: string; refresh_token: string; [field: string]: unknown }>;
  /** Token endpoint requests so far (counted before they are answered), all or those of one `grant_type`. */
  tokenRequests(grantType?: string): Promise<number>;
  /** What the server wrote to stderr (tracebacks of its 500 answers), the last 64 KiB. */
  logs(): string;
  /** Stops the process by its handle and removes its temp dir. */
  stop(): Promise<void>;
}

export interface DjangoOAuthOptions {
  /** `ACCESS_TOKEN_EXPIRE_SECONDS`. Default 300. */
  accessTokenTtl?: number;
  /** How long to wait for the server to answer, in ms. Default 60000. */
  startTimeoutMs?: number;
}

let available: boolean | undefined;

/** True when Debian's `python3-django-oauth-toolkit` (and what the test server imports with it) is installed. */
export function hasDjangoOAuth(): boolean {
  available ??= spawnSync(PYTHON, ['-c', 'import oauth2_provider, django, jwcrypto'], { stdio: 'ignore' }).status === 0;
  return available;
}

/**
 * Starts the real Django OAuth Toolkit 1.7 (Debian's `python3-django-oauth-toolkit`) on 127.0.0.1, on a port the
 * OS picks, with a fresh sqlite database in a temp dir: `ROTATE_REFRESH_TOKEN`, OIDC discovery (an RSA key made
 * per launch), a client_credentials application, a password-grant application and its user, RFC 7009 revocation
 * and a protected API. DEBUG is off; the server is Django's threaded WSGI server from the stdlib `wsgiref`.
 */
export async function startDjangoOAuth(options: DjangoOAuthOptions = {}): Promise<DjangoOAuthServer> {
  const accessTokenTtl = options.accessTokenTtl ?? 300;
  const clients: DjangoOAuthClients = {
    credentials: { clientId: 'tokenkit cc', clientSecret: 'p@ss:w/rd+% x' },
    password: {
      clientId: 'tokenkit-password',
      clientSecret: 'password-client-secret-0123456789',
      username: 'alice',
      password: 'wonder land:1',
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-django-oauth-'));
  const config = { db: join(dir, 'db.sqlite3'), cacheDir: TEMPLATE_CACHE, accessTokenTtl, clients };

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TOKENKIT_DOT_CONFIG: JSON.stringify(config),
    PYTHONDONTWRITEBYTECODE: '1',
  };
  // A Python of another installation (pyenv, a virtualenv) must not redirect Debian's interpreter.
  delete env['PYTHONPATH'];
  delete env['PYTHONHOME'];
  // stdin stays open: serve.py exits when it closes, so a test process that dies does not leave a server behind.
  const server = launch('django-oauth-toolkit', PYTHON, ['-B', SERVE], {
    cwd: dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    workDir: dir,
    separateStdout: true,
  });
  const stop = () => server.stop();

  try {
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const failed = (what: string) => new Error(`django-oauth-toolkit ${what}:\n${server.output()}`);
    const check = () => server.check(deadline, timeoutMs);

    // serve.py prints {"port": N} once its socket listens: no port is picked here and raced for.
    let port: number | undefined;
    while (port === undefined) {
      check();
      const ready = /^\{"port": (\d+)\}$/m.exec(server.stdout().split('\n').slice(0, -1).join('\n'));
      if (ready !== null) port = Number(ready[1]);
      else await sleep(20);
    }
    const url = `http://127.0.0.1:${port}`;

    let document: { issuer?: unknown; token_endpoint?: unknown } | undefined;
    while (document === undefined) {
      check();
      try {
        const res = await fetch(`${url}/o/.well-known/openid-configuration/`, { signal: AbortSignal.timeout(5_000) });
        if (res.ok) document = (await res.json()) as typeof document;
        else await res.arrayBuffer();
      } catch {
        // Not answering yet.
      }
      if (document === undefined) await sleep(50);
    }
    if (typeof document.issuer !== 'string' || typeof document.token_endpoint !== 'string') {
      throw failed(`served a discovery document without issuer or token_endpoint: ${JSON.stringify(document)}`);
    }
    const issuer = document.issuer;
    const tokenEndpoint = document.token_endpoint;
    const revocationEndpoint = `${url}/o/revoke_token/`;
    const { clientId, clientSecret } = clients.password;
    const basic = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;

    return {
      url,
      issuer,
      discoveryUrl: `${issuer}/.well-known/openid-configuration/`,
      tokenEndpoint,
      revocationEndpoint,
      apiUrl: `${url}/api/hello`,
      dotGenericApiUrl: `${url}/api/dot-generic`,
      accessTokenTtl,
      clients,
      passwordGrant() {
        const { clientId, clientSecret, username, password } = clients.password;
        return { tokenEndpoint, clientId, clientSecret, grant: { type: 'password', username, password } };
      },
      async passwordGrantByHand() {
        const { username, password } = clients.password;
        const body = new URLSearchParams({ grant_type: 'password', username, password });
        const res = await fetch(tokenEndpoint, { method: 'POST', headers: { authorization: basic }, body });
        return (await res.json()) as { access_token: string; refresh_token: string };
      },
      async revoke(token, hint) {
        const body = new URLSearchParams({ token, ...(hint === undefined ? {} : { token_type_hint: hint }) });
        const res = await fetch(revocationEndpoint, { method: 'POST', headers: { authorization: basic }, body });
        const text = await res.text();
        // RFC 7009 §2.2: 200 even for a token the server does not know. The body never holds the token.
        if (res.status !== 200) throw new Error(`revocation answered HTTP ${res.status}: ${text.slice(0, 200)}`);
      },
      async tokenRequests(grantType) {
        const res = await fetch(`${url}/_tokenkit/stats`);
        const stats = (await res.json()) as { token: number; grants: Record<string, number> };
        return grantType === undefined ? stats.token : (stats.grants[grantType] ?? 0);
      },
      logs: () => server.output(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** RFC 6749 Appendix B: `application/x-www-form-urlencoded`, a space as `+`. */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}
