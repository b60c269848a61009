import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { JWK } from 'jose';
import { launch, type Launched } from './launch.ts';
import { freePort } from './redis.ts';

/**
 * The sqlite3 schema Debian's `glewlwyd` package ships (tables, the `database` user and client backends, the
 * `admin` user with password `password`). dbconfig-common's copy first: Debian images often drop /usr/share/doc.
 */
const SCHEMAS = [
  '/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3',
  '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz',
];
const FIXTURES = fileURLToPath(new URL('../fixtures/glewlwyd/', import.meta.url));
const ADMIN = { username: 'admin', password: 'password' };
const PLUGIN = 'oidc';

export interface GlewlwydClients {
  /** client_secret_basic; the secret holds `:`, `+`, `%`, `/`, `~` and a space: RFC 6749 form-encoding changes it. */
  basic: { clientId: string; clientSecret: string };
  /** client_secret_basic with an id and secret that form-encoding leaves as they are: Basic works either way. */
  basicUnreserved: { clientId: string; clientSecret: string };
  /** client_secret_post. */
  post: { clientId: string; clientSecret: string };
  /** private_key_jwt with an ES256 key; the client's `jwks` holds the public half (same `kid`). */
  privateKeyJwt: { clientId: string; privateJwk: JWK; privateKey: KeyObject };
}

export interface GlewlwydServer {
  /** `http://127.0.0.1:<port>/api/oidc`: the OIDC plugin's URL, which is also its issuer. */
  readonly issuer: string;
  /** `{issuer}/token` */
  readonly tokenEndpoint: string;
  /** `{issuer}/.well-known/openid-configuration` */
  readonly discoveryUrl: string;
  /** `{issuer}/jwks`: the key that signs access tokens. */
  readonly jwksUri: string;
  readonly port: number;
  /** Scopes the clients may ask for (each client has all of them). */
  readonly scopes: readonly string[];
  readonly clients: GlewlwydClients;
  /** What Glewlwyd printed so far (stdout and stderr, the last 64 KiB). */
  logs(): string;
  /** Stops the process (by its handle) and removes its temp dir. */
  stop(): Promise<void>;
}

export interface GlewlwydOptions {
  /** Access token lifetime in seconds. Default 3600 (Glewlwyd's own default). */
  accessTokenTtl?: number;
  /** Default `['payments:read', 'payments:write']`. */
  scopes?: string[];
  /** Glewlwyd's log level. Default `WARNING`; `DEBUG` says why a client was refused. */
  logLevel?: 'NONE' | 'ERROR' | 'WARNING' | 'INFO' | 'DEBUG';
  /** How long to wait for the server to answer, in ms. Default 60000. */
  startTimeoutMs?: number;
}

/** True when Debian's `glewlwyd` package (binary and sqlite3 schema) is installed. */
export function hasGlewlwyd(): boolean {
  return (
    spawnSync('glewlwyd', ['--version'], { stdio: 'ignore' }).status === 0 && SCHEMAS.some((path) => existsSync(path))
  );
}

function schemaSql(): string {
  const path = SCHEMAS.find((candidate) => existsSync(candidate));
  if (path === undefined) throw new Error(`the glewlwyd sqlite3 schema is missing (looked for ${SCHEMAS.join(', ')})`);
  const raw = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
}

/**
 * Starts the real Glewlwyd 2.7 (C, Debian's `glewlwyd`) on 127.0.0.1 with a fresh sqlite database in a temp dir,
 * and sets it up through its admin REST API: an OIDC plugin instance with the client_credentials grant and
 * discovery, the scopes, and four confidential client_credentials clients (client_secret_basic twice,
 * client_secret_post, private_key_jwt). Each client has exactly one `token_endpoint_auth_method`: Glewlwyd
 * refuses a confidential client whose method list is empty.
 */
export async function startGlewlwyd(options: GlewlwydOptions = {}): Promise<GlewlwydServer> {
  const scopes = options.scopes ?? ['payments:read', 'payments:write'];
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const issuer = `${origin}/api/${PLUGIN}`;
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-glewlwyd-'));
  const database = join(dir, 'glewlwyd.sqlite3');

  const db = new DatabaseSync(database);
  try {
    db.exec(schemaSql());
  } finally {
    db.close();
  }
  const config = readFileSync(join(FIXTURES, 'glewlwyd.conf'), 'utf8')
    .replaceAll('@@PORT@@', String(port))
    .replaceAll('@@LOG_LEVEL@@', options.logLevel ?? 'WARNING')
    .replaceAll('@@DATABASE@@', database);
  const configFile = join(dir, 'glewlwyd.conf');
  writeFileSync(configFile, config);

  const server = launch('glewlwyd', 'glewlwyd', ['--config-file', configFile], { workDir: dir });
  const stop = () => server.stop();

  try {
    await waitUntilAnswering(origin, server, options.startTimeoutMs ?? 60_000);
    const admin = await adminSession(origin);

    for (const scope of scopes) {
      await admin('POST', '/api/scope/', {
        name: scope,
        display_name: scope,
        description: `tokenkit test scope ${scope}`,
        password_required: false,
        scheme: {},
      });
    }

    const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signingJwk = { ...(signing.privateKey.export({ format: 'jwk' }) as JWK), kid: 'server-key-1', alg: 'ES256' };
    const plugin = JSON.parse(readFileSync(join(FIXTURES, 'oidc-plugin.json'), 'utf8')) as Record<string, unknown> & {
      parameters: Record<string, unknown>;
    };
    delete plugin['//'];
    plugin.name = PLUGIN;
    Object.assign(plugin.parameters, {
      iss: issuer,
      'jwks-private': JSON.stringify({ keys: [signingJwk] }),
      'default-kid': signingJwk.kid,
      'access-token-duration': options.accessTokenTtl ?? 3600,
      'allowed-scope': ['openid', ...scopes],
    });
    await admin('POST', '/api/mod/plugin/', plugin);

    const clientKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyInfo = { kid: 'client-key-1', alg: 'ES256' };
    const privateJwk = { ...(clientKeys.privateKey.export({ format: 'jwk' }) as JWK), ...keyInfo };
    const publicJwk = { ...(clientKeys.publicKey.export({ format: 'jwk' }) as JWK), ...keyInfo, use: 'sig' };
    const clients: GlewlwydClients = {
      basic: { clientId: 'basic-client', clientSecret: 'p@ss:w/rd+%~ x' },
      basicUnreserved: { clientId: 'basic-unreserved', clientSecret: 'unreserved-secret-0123456789' },
      post: { clientId: 'post-client', clientSecret: 'post-secret-0123456789' },
      privateKeyJwt: { clientId: 'jwt-client', privateJwk, privateKey: clientKeys.privateKey },
    };
    const common = {
      enabled: true,
      confidential: true,
      scope: scopes,
      authorization_type: ['client_credentials'],
      redirect_uri: [],
    };
    await admin('POST', '/api/client/', {
      ...common,
      client_id: clients.basic.clientId,
      name: 'client_secret_basic',
      token_endpoint_auth_method: ['client_secret_basic'],
      client_secret: clients.basic.clientSecret,
    });
    await admin('POST', '/api/client/', {
      ...common,
      client_id: clients.basicUnreserved.clientId,
      name: 'client_secret_basic, unreserved characters only',
      token_endpoint_auth_method: ['client_secret_basic'],
      client_secret: clients.basicUnreserved.clientSecret,
    });
    await admin('POST', '/api/client/', {
      ...common,
      client_id: clients.post.clientId,
      name: 'client_secret_post',
      token_endpoint_auth_method: ['client_secret_post'],
      client_secret: clients.post.clientSecret,
    });
    await admin('POST', '/api/client/', {
      ...common,
      client_id: clients.privateKeyJwt.clientId,
      name: 'private_key_jwt',
      token_endpoint_auth_method: ['private_key_jwt'],
      jwks: { keys: [publicJwk] },
    });

    return {
      issuer,
      tokenEndpoint: `${issuer}/token`,
      discoveryUrl: `${issuer}/.well-known/openid-configuration`,
      jwksUri: `${issuer}/jwks`,
      port,
      scopes,
      clients,
      logs: () => server.output(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `/config` (served without a session) until it answers 200, the process dies, or the deadline passes. */
async function waitUntilAnswering(origin: string, server: Launched, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    server.check(deadline, timeoutMs);
    try {
      const res = await fetch(`${origin}/config`, { signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
}

type AdminCall = (method: string, path: string, body?: unknown) => Promise<unknown>;

/** Logs in as the schema's `admin` user (password scheme of the core) and returns a caller that sends its cookie. */
async function adminSession(origin: string): Promise<AdminCall> {
  const login = await fetch(`${origin}/api/auth/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  await login.arrayBuffer();
  const cookie = login.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0])
    .join('; ');
  if (!login.ok || cookie === '') throw new Error(`glewlwyd admin login failed: HTTP ${login.status}`);
  return async (method, path, body) => {
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    // Glewlwyd answers a rejected admin call with a JSON array of reasons (400) or an empty body.
    if (!res.ok) throw new Error(`glewlwyd admin ${method} ${path}: HTTP ${res.status} ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
}
