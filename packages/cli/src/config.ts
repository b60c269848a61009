import { basicAuthorization } from '@tokenkit/core/adapter';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { type ClientAuthMethod, type PrivateKeyInput, type TokenProviderOptions } from '@tokenkit/core';
import { UsageError, type Output } from './io.ts';

/** The flags every command that talks to a token endpoint takes (`token`, `doctor`). */
export const CONFIG_FLAGS = {
  config: { type: 'string' },
  issuer: { type: 'string' },
  'token-endpoint': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'client-secret-file': { type: 'string' },
  'client-secret-stdin': { type: 'boolean' },
  'auth-method': { type: 'string' },
  'basic-encoding': { type: 'string' },
  'body-format': { type: 'string' },
  'private-key-file': { type: 'string' },
  scope: { type: 'string', multiple: true },
  audience: { type: 'string' },
  resource: { type: 'string', multiple: true },
  param: { type: 'string', multiple: true },
  username: { type: 'string' },
  password: { type: 'string' },
  'password-file': { type: 'string' },
  'timeout-ms': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** What `--help` says about {@link CONFIG_FLAGS}. */
export const CONFIG_HELP = `Configuration (flags win over environment variables, which win over the config file):
  --config FILE               a JSON file with createTokenProvider option names (see the README)  TOKENKIT_CONFIG
  --issuer URL                discover the token endpoint from this issuer          TOKENKIT_ISSUER
  --token-endpoint URL        or give the token endpoint itself                     TOKENKIT_TOKEN_ENDPOINT
  --client-id ID                                                                    TOKENKIT_CLIENT_ID
  --client-secret-file FILE   read the client secret from a file                    TOKENKIT_CLIENT_SECRET_FILE
  --client-secret-stdin       read the client secret from stdin                     TOKENKIT_CLIENT_SECRET
  --client-secret SECRET      works, with a warning: it lands in shell history and the process list
  --auth-method METHOD        client_secret_basic, client_secret_post, private_key_jwt, none  TOKENKIT_AUTH_METHOD
  --basic-encoding form|plain how client_secret_basic encodes id and secret         TOKENKIT_BASIC_ENCODING
  --body-format form|json     the token request body                                TOKENKIT_BODY_FORMAT
  --private-key-file FILE     private_key_jwt key: a PEM or a JWK (JSON)            TOKENKIT_PRIVATE_KEY_FILE
  --scope SCOPE               repeatable, or space-delimited                        TOKENKIT_SCOPE
  --audience AUDIENCE                                                               TOKENKIT_AUDIENCE
  --resource URI              RFC 8707 resource indicator, repeatable               TOKENKIT_RESOURCE
  --param NAME=VALUE          another token request parameter, repeatable
  --username NAME             use the password grant                                TOKENKIT_USERNAME
  --password-file FILE        its password (or TOKENKIT_PASSWORD; --password PASSWORD warns like --client-secret)
  --timeout-ms MS             per token request attempt (default 10000)             TOKENKIT_TIMEOUT_MS
  -q, --quiet                 no progress lines on stderr (warnings still show)`;

type FlagValues = {
  [K in keyof typeof CONFIG_FLAGS]?: (typeof CONFIG_FLAGS)[K] extends { multiple: true }
    ? string[]
    : (typeof CONFIG_FLAGS)[K] extends { type: 'boolean' }
      ? boolean
      : string;
};

/** Where a setting came from, for the doctor's report and for messages. */
export type Source = string;

/** A configuration read from flags, environment and config file, ready for `createTokenProvider`. */
export interface CliConfig {
  /** The options, without `fetch` and `onEvent` (the commands add their own). */
  options: TokenProviderOptions;
  /** Where each setting came from: `--client-id`, `TOKENKIT_CLIENT_ID`, `config.json`. */
  sources: Partial<Record<keyof TokenProviderOptions | 'privateKeyFile' | 'password', Source>>;
  /** The private key file's path (for the doctor's snippet: a path is not a secret). */
  privateKeyFile: string | undefined;
  /** Whether the private key file holds a JWK (JSON) rather than a PEM. */
  privateKeyIsJwk: boolean;
}

const CONFIG_KEYS = new Set([
  'issuer',
  'tokenEndpoint',
  'clientId',
  'clientSecret',
  'clientSecretFile',
  'clientAuthMethod',
  'basicEncoding',
  'bodyFormat',
  'privateKeyFile',
  'scope',
  'audience',
  'resource',
  'extraParams',
  'username',
  'passwordFile',
  'timeoutMs',
  'maxRetries',
  'defaultTokenType',
  'defaultExpiresInSeconds',
]);

const AUTH_METHODS: readonly ClientAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
];

/** How a user sets each option, for messages about a `ConfigurationError`. */
export const HOW_TO_SET: Readonly<Record<string, string>> = {
  issuer: '--issuer, TOKENKIT_ISSUER',
  tokenEndpoint: '--token-endpoint or --issuer, TOKENKIT_TOKEN_ENDPOINT or TOKENKIT_ISSUER',
  clientId: '--client-id, TOKENKIT_CLIENT_ID',
  clientSecret: '--client-secret-file, --client-secret-stdin, TOKENKIT_CLIENT_SECRET',
  clientAuthMethod: '--auth-method, TOKENKIT_AUTH_METHOD',
  basicEncoding: '--basic-encoding, TOKENKIT_BASIC_ENCODING',
  bodyFormat: '--body-format, TOKENKIT_BODY_FORMAT',
  privateKey: '--private-key-file, TOKENKIT_PRIVATE_KEY_FILE',
  scope: '--scope, TOKENKIT_SCOPE',
  audience: '--audience, TOKENKIT_AUDIENCE',
  resource: '--resource, TOKENKIT_RESOURCE',
  'grant.username': '--username, TOKENKIT_USERNAME',
  'grant.password': '--password-file, TOKENKIT_PASSWORD',
  timeoutMs: '--timeout-ms, TOKENKIT_TIMEOUT_MS',
};

/**
 * Reads the configuration: flags, then `TOKENKIT_*` environment variables, then the JSON config file. Secrets come
 * from the environment, a file or stdin; a secret given as a flag value works but is warned about on stderr.
 */
export async function readConfig(
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  out: Output,
  readStdin: () => Promise<string>,
): Promise<CliConfig> {
  const configPath = flags.config ?? nonEmpty(env['TOKENKIT_CONFIG']);
  const file = configPath === undefined ? {} : readConfigFile(configPath, out);
  const fileName = configPath ?? '';
  const fileDir = configPath === undefined ? process.cwd() : dirname(resolve(configPath));
  const sources: CliConfig['sources'] = {};

  /**
   * The first of flag, environment variable, config file key that is set, and where it came from. `inFile` false:
   * the config file holds this setting as something other than text (a number), read separately.
   */
  const pick = (
    flag: string | undefined,
    flagName: string,
    envName: string,
    key: string,
    inFile = true,
  ): string | undefined => {
    const fromEnv = nonEmpty(env[envName]);
    const fromFile = inFile ? file[key] : undefined;
    if (flag !== undefined) return note(key, `--${flagName}`, flag);
    if (fromEnv !== undefined) return note(key, envName, fromEnv);
    if (fromFile !== undefined) {
      if (typeof fromFile !== 'string') throw new UsageError(`${fileName}: "${key}" must be a string`);
      return note(key, fileName, fromFile);
    }
    return undefined;
  };
  const note = (key: string, source: string, value: string) => {
    (sources as Record<string, string>)[key] = source;
    return value;
  };

  const options: TokenProviderOptions = { clientId: undefined };
  const issuer = pick(flags.issuer, 'issuer', 'TOKENKIT_ISSUER', 'issuer');
  const tokenEndpoint = pick(flags['token-endpoint'], 'token-endpoint', 'TOKENKIT_TOKEN_ENDPOINT', 'tokenEndpoint');
  // A flag for one endpoint overrides the other one from the environment or the file: the user meant this one.
  if (flags.issuer !== undefined && flags['token-endpoint'] === undefined) options.issuer = issuer;
  else if (flags['token-endpoint'] !== undefined && flags.issuer === undefined) options.tokenEndpoint = tokenEndpoint;
  else {
    if (issuer !== undefined) options.issuer = issuer;
    if (tokenEndpoint !== undefined) options.tokenEndpoint = tokenEndpoint;
  }
  options.clientId = pick(flags['client-id'], 'client-id', 'TOKENKIT_CLIENT_ID', 'clientId');

  const secret = await readSecret(
    {
      flag: flags['client-secret'],
      flagName: 'client-secret',
      fileFlag: flags['client-secret-file'],
      stdin: flags['client-secret-stdin'] === true,
      env: nonEmpty(env['TOKENKIT_CLIENT_SECRET']),
      envName: 'TOKENKIT_CLIENT_SECRET',
      envFile: nonEmpty(env['TOKENKIT_CLIENT_SECRET_FILE']),
      envFileName: 'TOKENKIT_CLIENT_SECRET_FILE',
      fromFile: file['clientSecret'],
      fromFileFile: file['clientSecretFile'],
      key: 'clientSecret',
    },
    { fileName, fileDir, out, readStdin },
  );
  if (secret !== undefined) {
    options.clientSecret = secret.value;
    sources.clientSecret = secret.source;
    registerSecret(out, options.clientId ?? '', secret.value);
  }

  const method = pick(flags['auth-method'], 'auth-method', 'TOKENKIT_AUTH_METHOD', 'clientAuthMethod');
  if (method !== undefined) {
    if (!(AUTH_METHODS as readonly string[]).includes(method)) {
      throw new UsageError(`${sources.clientAuthMethod}: must be one of ${AUTH_METHODS.join(', ')}, not "${method}"`);
    }
    options.clientAuthMethod = method as ClientAuthMethod;
  }
  const encoding = pick(flags['basic-encoding'], 'basic-encoding', 'TOKENKIT_BASIC_ENCODING', 'basicEncoding');
  if (encoding !== undefined) {
    if (encoding !== 'form' && encoding !== 'plain') {
      throw new UsageError(`${sources.basicEncoding}: must be form or plain, not "${encoding}"`);
    }
    options.basicEncoding = encoding;
  }
  const bodyFormat = pick(flags['body-format'], 'body-format', 'TOKENKIT_BODY_FORMAT', 'bodyFormat');
  if (bodyFormat !== undefined) {
    if (bodyFormat !== 'form' && bodyFormat !== 'json') {
      throw new UsageError(`${sources.bodyFormat}: must be form or json, not "${bodyFormat}"`);
    }
    options.bodyFormat = bodyFormat;
  }

  let privateKeyFile = pick(
    flags['private-key-file'],
    'private-key-file',
    'TOKENKIT_PRIVATE_KEY_FILE',
    'privateKeyFile',
  );
  let privateKeyIsJwk = false;
  if (privateKeyFile !== undefined) {
    if (sources.privateKeyFile === fileName) privateKeyFile = resolve(fileDir, privateKeyFile);
    const text = readText(privateKeyFile, sources.privateKeyFile ?? 'privateKeyFile');
    let key: PrivateKeyInput = text;
    if (text.trimStart().startsWith('{')) {
      try {
        key = JSON.parse(text) as PrivateKeyInput;
        privateKeyIsJwk = true;
      } catch {
        throw new UsageError(`${sources.privateKeyFile}: ${privateKeyFile} is neither a PEM nor a JSON JWK`);
      }
    }
    options.privateKey = key;
    registerPrivateKey(out, text, key);
    // A key and no secret can only mean private_key_jwt; core's default (Basic) would refuse the missing secret.
    if (options.clientAuthMethod === undefined && options.clientSecret === undefined) {
      options.clientAuthMethod = 'private_key_jwt';
    }
  }

  const scope = [
    ...listFrom(flags.scope, env['TOKENKIT_SCOPE'], file['scope'], 'scope', fileName, sources, 'TOKENKIT_SCOPE'),
  ];
  if (scope.length > 0) options.scope = scope;
  const audience = pick(flags.audience, 'audience', 'TOKENKIT_AUDIENCE', 'audience');
  if (audience !== undefined) options.audience = audience;
  const resource = listFrom(
    flags.resource,
    env['TOKENKIT_RESOURCE'],
    file['resource'],
    'resource',
    fileName,
    sources,
    'TOKENKIT_RESOURCE',
  );
  if (resource.length > 0) options.resource = resource;

  const extraParams = readExtraParams(flags.param, file['extraParams'], fileName);
  if (extraParams !== undefined) options.extraParams = extraParams;

  const username = pick(flags.username, 'username', 'TOKENKIT_USERNAME', 'username');
  if (username !== undefined) {
    const password = await readSecret(
      {
        flag: flags.password,
        flagName: 'password',
        fileFlag: flags['password-file'],
        stdin: false,
        env: nonEmpty(env['TOKENKIT_PASSWORD']),
        envName: 'TOKENKIT_PASSWORD',
        envFile: undefined,
        envFileName: '',
        fromFile: undefined,
        fromFileFile: file['passwordFile'],
        key: 'password',
      },
      { fileName, fileDir, out, readStdin },
    );
    if (password === undefined) {
      throw new UsageError('--username needs a password: TOKENKIT_PASSWORD or --password-file');
    }
    out.secrets.add(password.value);
    sources.password = password.source;
    options.grant = { type: 'password', username, password: password.value };
  } else if (flags.password !== undefined || flags['password-file'] !== undefined) {
    throw new UsageError('a password needs --username (or TOKENKIT_USERNAME)');
  }

  // The config file's timeoutMs is a JSON number, read with the other numbers below; flag and variable are text.
  const timeout = pick(flags['timeout-ms'], 'timeout-ms', 'TOKENKIT_TIMEOUT_MS', 'timeoutMs', false);
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!Number.isFinite(ms) || ms <= 0) throw new UsageError(`${sources.timeoutMs}: must be a number of ms > 0`);
    options.timeoutMs = ms;
  }
  for (const key of ['timeoutMs', 'maxRetries', 'defaultExpiresInSeconds'] as const) {
    if (key === 'timeoutMs' && timeout !== undefined) continue;
    const value = file[key];
    if (value === undefined) continue;
    if (typeof value !== 'number') throw new UsageError(`${fileName}: "${key}" must be a number`);
    options[key] = value;
  }
  if (file['defaultTokenType'] !== undefined) {
    if (file['defaultTokenType'] !== 'Bearer') throw new UsageError(`${fileName}: "defaultTokenType" must be "Bearer"`);
    options.defaultTokenType = 'Bearer';
  }
  return { options, sources, privateKeyFile, privateKeyIsJwk };
}

interface SecretPlaces {
  flag: string | undefined;
  flagName: string;
  fileFlag: string | undefined;
  stdin: boolean;
  env: string | undefined;
  envName: string;
  envFile: string | undefined;
  envFileName: string;
  fromFile: unknown;
  fromFileFile: unknown;
  key: string;
}

async function readSecret(
  places: SecretPlaces,
  context: { fileName: string; fileDir: string; out: Output; readStdin: () => Promise<string> },
): Promise<{ value: string; source: string } | undefined> {
  const given = [places.flag !== undefined, places.fileFlag !== undefined, places.stdin].filter(Boolean).length;
  if (given > 1) {
    throw new UsageError(
      `give the ${places.key} one way: --${places.flagName}-file, --${places.flagName}-stdin or --${places.flagName}`,
    );
  }
  if (places.flag !== undefined) {
    context.out.secrets.add(places.flag);
    context.out.warn(
      `warning: --${places.flagName} puts the secret in your shell history and the process list; ` +
        `use ${places.envName}, --${places.flagName}-file${places.key === 'clientSecret' ? ` or --${places.flagName}-stdin` : ''} instead`,
    );
    return { value: places.flag, source: `--${places.flagName}` };
  }
  if (places.fileFlag !== undefined) {
    return { value: readSecretFile(places.fileFlag, `--${places.flagName}-file`), source: `--${places.flagName}-file` };
  }
  if (places.stdin) {
    if (process.stdin.isTTY) context.out.warn(`type the ${places.key} (it shows as you type), then Ctrl-D`);
    const text = stripNewline(await context.readStdin());
    if (text === '') throw new UsageError(`--${places.flagName}-stdin: stdin was empty`);
    return { value: text, source: 'stdin' };
  }
  if (places.env !== undefined) return { value: places.env, source: places.envName };
  if (places.envFile !== undefined) {
    return { value: readSecretFile(places.envFile, places.envFileName), source: places.envFileName };
  }
  if (places.fromFile !== undefined) {
    if (typeof places.fromFile !== 'string')
      throw new UsageError(`${context.fileName}: "${places.key}" must be a string`);
    warnIfReadableByOthers(context.fileName, places.key, context.out);
    return { value: places.fromFile, source: context.fileName };
  }
  if (places.fromFileFile !== undefined) {
    if (typeof places.fromFileFile !== 'string') {
      throw new UsageError(`${context.fileName}: "${places.key}File" must be a string`);
    }
    const path = resolve(context.fileDir, places.fromFileFile);
    return { value: readSecretFile(path, `${context.fileName} ${places.key}File`), source: path };
  }
  return undefined;
}

function readSecretFile(path: string, what: string): string {
  const value = stripNewline(readText(path, what));
  if (value === '') throw new UsageError(`${what}: ${path} is empty`);
  return value;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** One trailing newline is how files and `echo` end a line, not part of the secret. */
function stripNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

function warnIfReadableByOthers(path: string, key: string, out: Output): void {
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      out.warn(
        `warning: ${path} holds "${key}" and others may read it (mode ${mode.toString(8)}); chmod 600 it, ` +
          `or keep the secret in a file of its own ("${key}File")`,
      );
    }
  } catch {
    // The file was read a moment ago; a failing stat only loses the warning.
  }
}

function readConfigFile(path: string, out: Output): Record<string, unknown> {
  const text = readText(path, '--config');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // The parser's message may quote the file's text, which may hold the secret: say where, not what.
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new UsageError(`--config: ${path} is not valid JSON${at === undefined ? '' : ` (at character ${at})`}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config: ${path} must hold a JSON object`);
  }
  const file = parsed as Record<string, unknown>;
  for (const key of Object.keys(file)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new UsageError(`--config: ${path}: unknown key "${key}" (known: ${[...CONFIG_KEYS].join(', ')})`);
    }
  }
  if (typeof file['clientSecret'] === 'string') out.secrets.add(file['clientSecret']);
  return file;
}

function listFrom(
  flag: string[] | undefined,
  fromEnv: string | undefined,
  fromFile: unknown,
  key: 'scope' | 'resource',
  fileName: string,
  sources: CliConfig['sources'],
  envName: string,
): string[] {
  const split = (text: string) => text.split(/\s+/).filter(Boolean);
  if (flag !== undefined && flag.length > 0) {
    sources[key] = `--${key}`;
    return flag.flatMap(split);
  }
  if (nonEmpty(fromEnv) !== undefined) {
    sources[key] = envName;
    return split(fromEnv!);
  }
  if (fromFile === undefined) return [];
  sources[key] = fileName;
  if (typeof fromFile === 'string') return split(fromFile);
  if (Array.isArray(fromFile) && fromFile.every((s) => typeof s === 'string')) return fromFile as string[];
  throw new UsageError(`${fileName}: "${key}" must be a string or an array of strings`);
}

function readExtraParams(
  flag: string[] | undefined,
  fromFile: unknown,
  fileName: string,
): Record<string, string | string[]> | undefined {
  const params: Record<string, string | string[]> = {};
  if (fromFile !== undefined) {
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new UsageError(`${fileName}: "extraParams" must be an object`);
    }
    Object.assign(params, fromFile);
  }
  for (const pair of flag ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param: expected NAME=VALUE, got "${pair}"`);
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const prev = params[name];
    params[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return Object.keys(params).length > 0 ? params : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** A client secret, and both HTTP Basic credentials it makes with the client id (form-encoded and plain). */
function registerSecret(out: Output, clientId: string, secret: string): void {
  out.secrets.add(secret);
  out.secrets.add(basicAuthorization(clientId, secret, 'form').slice('Basic '.length));
  if (!clientId.includes(':')) out.secrets.add(basicAuthorization(clientId, secret, 'plain').slice('Basic '.length));
}

/** The private parts of a key, so they are masked like any secret: a JWK's private members, a PEM's body lines. */
function registerPrivateKey(out: Output, text: string, key: PrivateKeyInput): void {
  if (typeof key === 'object' && key !== null) {
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
      const value = (key as Record<string, unknown>)[member];
      if (typeof value === 'string') out.secrets.add(value);
    }
    return;
  }
  const body = text.split(/\r?\n/).filter((line) => line !== '' && !line.startsWith('-----'));
  for (const line of body) if (line.length >= 16) out.secrets.add(line);
  out.secrets.add(body.join(''));
}
