import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApi, startTokenServer, type ApiServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, leaks, runCli } from './fixtures/run.ts';

// A secret every encoding changes: a space, ':', '+', '%', '/', '@'.
const CLIENT = { id: 'cli client', secret: 'cli s3cret:+%/@ x' };

const USER_PASSWORD = 'al1ce pa55:+%/';

let server: TokenServer;
let api: ApiServer;
let dir: string;

beforeAll(async () => {
  server = await startTokenServer({
    clients: { [CLIENT.id]: CLIENT.secret },
    users: { alice: USER_PASSWORD },
    refreshTokens: true,
  });
  api = await startApi({ isValid: (token) => server.isValid(token) });
  dir = await mkdtemp(join(tmpdir(), 'tokenkit-cli-'));
});

afterAll(async () => {
  await server.close();
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

const env = () => ({
  TOKENKIT_TOKEN_ENDPOINT: server.url,
  TOKENKIT_CLIENT_ID: CLIENT.id,
  TOKENKIT_CLIENT_SECRET: CLIENT.secret,
});
const secrets = () => [{ secret: CLIENT.secret, clientId: CLIENT.id }, ...server.issued];

describe('tokenkit token', () => {
  it('prints the access token and nothing else on stdout; exit 0', async () => {
    const run = await runCli(['token', '--scope', 'read', '--scope', 'write refund'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const token = run.stdout.trimEnd();
    expect(run.stdout).toBe(`${token}\n`);
    expect(server.isValid(token)).toBe(true);
    // The leak detector the other tests rely on finds what is there: here the token, which is the result.
    expect(leaks(run, [token])).toContain(`stdout has ${JSON.stringify(token)}`);
    const request = server.requests.at(-1)!;
    expect(request.params['scope']).toBe('read write refund');
    // The default client authentication: Basic with RFC 6749 encoding (the test server form-decodes).
    expect(request.client).toEqual({ id: CLIENT.id, secret: CLIENT.secret, via: 'basic' });
  });

  it('--header prints an Authorization header line the API accepts', async () => {
    const run = await runCli(['token', '--header'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Authorization: Bearer at-[0-9a-f]+\n$/);
    const [name, value] = run.stdout.trimEnd().split(': ');
    const res = await fetch(`${api.origin}/payments`, { headers: { [name!]: value! } });
    expect(res.status).toBe(200);
  });

  it.skipIf(!existsSync('/usr/bin/curl'))('curl -H "$(tokenkit token --header)" works as the README says', async () => {
    const { stdout } = await promisify(execFile)(
      'sh',
      ['-c', `curl -sS -H "$(node '${CLI}' token --header)" '${api.origin}/payments'`],
      { env: { ...process.env, ...env() } },
    );
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, path: '/payments' });
  });

  it('--json prints the token response without the refresh token, unless --include-refresh-token', async () => {
    const run = await runCli(['token', '--json', '--scope', 'read'], { env: env() });
    expect(run.code).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'read' });
    expect(server.isValid(json['access_token'] as string)).toBe(true);

    const withRefresh = await runCli(['token', '--json', '--include-refresh-token'], { env: env() });
    expect(withRefresh.code).toBe(0);
    expect(JSON.parse(withRefresh.stdout)).toMatchObject({ refresh_token: expect.stringMatching(/^rt-/) });
  });

  it('--client-secret works with a warning on stderr that does not repeat the secret', async () => {
    const run = await runCli(
      ['token', '--token-endpoint', server.url, '--client-id', CLIENT.id, '--client-secret', CLIENT.secret],
      {},
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/warning: --client-secret puts the secret in your shell history/);
    expect(server.isValid(run.stdout.trim())).toBe(true);
    expect(leaks({ ...run, stdout: '' }, secrets())).toEqual([]);
  });

  it('reads the secret from stdin, from a file, and from a config file (its clientSecretFile relative to it)', async () => {
    const viaStdin = await runCli(['token', '--client-secret-stdin'], {
      env: { TOKENKIT_TOKEN_ENDPOINT: server.url, TOKENKIT_CLIENT_ID: CLIENT.id },
      stdin: `${CLIENT.secret}\n`,
    });
    expect(viaStdin.code).toBe(0);
    expect(server.isValid(viaStdin.stdout.trim())).toBe(true);

    const secretFile = join(dir, 'secret.txt');
    await writeFile(secretFile, `${CLIENT.secret}\n`, { mode: 0o600 });
    const viaFile = await runCli(['token', '--client-secret-file', secretFile], {
      env: { TOKENKIT_TOKEN_ENDPOINT: server.url, TOKENKIT_CLIENT_ID: CLIENT.id },
    });
    expect(viaFile.code).toBe(0);
    expect(viaFile.stderr).toBe('');

    const config = join(dir, 'tokenkit.json');
    await writeFile(
      config,
      JSON.stringify({
        tokenEndpoint: server.url,
        clientId: CLIENT.id,
        clientSecretFile: 'secret.txt',
        scope: ['a'],
        timeoutMs: 5000,
        maxRetries: 0,
      }),
    );
    const viaConfig = await runCli(['token', '--config', config, '--scope', 'b'], { cwd: tmpdir() });
    expect(viaConfig.code).toBe(0);
    expect(viaConfig.stderr).toBe('');
    // A flag wins over the file.
    expect(server.requests.at(-1)!.params['scope']).toBe('b');
  });

  it('warns about a config file that holds the secret and others may read', async () => {
    const config = join(dir, 'open.json');
    await writeFile(
      config,
      JSON.stringify({ tokenEndpoint: server.url, clientId: CLIENT.id, clientSecret: CLIENT.secret }),
    );
    await chmod(config, 0o644);
    const run = await runCli(['token'], { env: { TOKENKIT_CONFIG: config } });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/open\.json holds "clientSecret" and others may read it \(mode 644\)/);
    expect(leaks({ ...run, stdout: '' }, secrets())).toEqual([]);
  });

  it('the password grant: --username with TOKENKIT_PASSWORD; a wrong password fails without showing either', async () => {
    const run = await runCli(['token', '--username', 'alice'], { env: { ...env(), TOKENKIT_PASSWORD: USER_PASSWORD } });
    expect(run.code).toBe(0);
    expect(server.requests.at(-1)!.params).toMatchObject({ grant_type: 'password', username: 'alice' });
    expect(server.isValid(run.stdout.trim())).toBe(true);

    const wrong = 'wr0ng pa55:+%/';
    const refused = await runCli(['token', '--username', 'alice', '--password', wrong], { env: env() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/warning: --password puts the secret in your shell history/);
    expect(refused.stderr).toMatch(/no token: token endpoint answered 400 invalid_grant/);
    expect(leaks(refused, [...secrets(), USER_PASSWORD, wrong])).toEqual([]);

    const noPassword = await runCli(['token', '--username', 'alice'], { env: env() });
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/--username needs a password/);
  });

  it('a refused secret: exit 1, the reason on stderr, nothing on stdout, no secret anywhere', async () => {
    const wrong = 'wrong s3cret:+%/';
    const run = await runCli(['token'], { env: { ...env(), TOKENKIT_CLIENT_SECRET: wrong } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/no token: token endpoint answered 401 invalid_client/);
    expect(run.stderr).toMatch(/tokenkit doctor/);
    expect(leaks(run, [...secrets(), { secret: wrong, clientId: CLIENT.id }])).toEqual([]);
  });

  it('an unreachable endpoint: exit 1 after core retries, each retry said on stderr', async () => {
    const closed = await startTokenServer();
    const url = closed.url;
    await closed.close();
    const run = await runCli(['token', '--token-endpoint', url], { env: { ...env(), TOKENKIT_TOKEN_ENDPOINT: '' } });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/network error; retrying in \d\.\d s \(retry 1\)/);
    expect(run.stderr).toMatch(/no token: request to http:\/\/127\.0\.0\.1:\d+\/token failed/);
  });

  it('a wait over a second gets a progress line on stderr; stdout stays the token alone', async () => {
    const slow = await startTokenServer({ clients: { [CLIENT.id]: CLIENT.secret }, latencyMs: 1500 });
    try {
      const run = await runCli(['token'], { env: { ...env(), TOKENKIT_TOKEN_ENDPOINT: slow.url } });
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /^tokenkit: waiting for the token endpoint \(http:\/\/127\.0\.0\.1:\d+\/token\) \(\d+ s\)\.\.\.$/m,
      );
      expect(run.stdout).toBe(`${slow.issued[0]}\n`);
      const quiet = await runCli(['token', '--quiet'], { env: { ...env(), TOKENKIT_TOKEN_ENDPOINT: slow.url } });
      expect(quiet.code).toBe(0);
      expect(quiet.stderr).toBe('');
    } finally {
      await slow.close();
    }
  });

  it.each([
    [['token', '--nope'], /Unknown option '--nope'/],
    [['token', '--header', '--json'], /--header and --json exclude each other/],
    [['token', '--include-refresh-token'], /--include-refresh-token goes with --json/],
    [['token', '--auth-method', 'magic'], /--auth-method: must be one of client_secret_basic/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['token', 'a-stray-s3cret'], /tokenkit token takes no arguments besides its flags/],
  ])('usage error %j: exit 2, the reason and a pointer to --help on stderr', async (args, message) => {
    const run = await runCli(args, { env: env() });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toMatch(/--help/);
    expect(run.stderr).not.toContain('a-stray-s3cret');
  });

  it('a missing or invalid setting is a usage error that names where to set it', async () => {
    const noId = await runCli(['token'], { env: { ...env(), TOKENKIT_CLIENT_ID: '' } });
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(
      /configuration: clientId: must be a non-empty string \(set with --client-id, TOKENKIT_CLIENT_ID\)/,
    );

    const insecure = await runCli(['token', '--token-endpoint', 'http://auth.example.com/token'], { env: env() });
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toMatch(/tokenEndpoint: must use https/);

    const badJson = join(dir, 'bad.json');
    await writeFile(badJson, `{ "clientSecret": "${CLIENT.secret}", `);
    const bad = await runCli(['token', '--config', badJson], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json is not valid JSON/);
    expect(leaks(bad, secrets())).toEqual([]);

    const unknownKey = join(dir, 'unknown.json');
    await writeFile(unknownKey, JSON.stringify({ clientSecrt: 'x' }));
    const unknown = await runCli(['token', '--config', unknownKey], {});
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown key "clientSecrt"/);
  });

  it.each([['token'], ['doctor'], ['inspect']])('tokenkit %s --help: usage on stdout, exit 0', async (command) => {
    const run = await runCli([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^Usage: tokenkit ${command}`));
    expect(run.stdout).toMatch(/Exit codes: 0 /);
    expect(run.stderr).toBe('');
  });

  it('tokenkit without a command: the overview on stderr, exit 2; tokenkit --help: on stdout, exit 0', async () => {
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/Commands:\n {2}token/);
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:/);
  });
});
