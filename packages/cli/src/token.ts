import { parseArgs } from 'node:util';
import { isTokenKitError } from '@tokenkit/core';
import { lastTokenExchange, responseJson, runAttempt } from './attempt.ts';
import { CONFIG_FLAGS, CONFIG_HELP, readConfig } from './config.ts';
import { EXIT, UsageError, type Output } from './io.ts';

/** `tokenkit token --help`. */
export const TOKEN_HELP = `Usage: tokenkit token [--header | --json [--include-refresh-token]] [configuration]

Gets an access token with @tokenkit/core and prints it on stdout (nothing else goes to stdout).

  curl -H "$(tokenkit token --header)" https://api.example.com/payments

Output:
  (default)                the access token and a newline
  --header                 Authorization: Bearer <token>
  --json                   the token endpoint's JSON answer, without refresh_token
  --include-refresh-token  with --json: keep refresh_token
  -h, --help               this text

${CONFIG_HELP}

Exit codes: 0 a token was printed; 1 no token (the reason is on stderr; tokenkit doctor says more); 2 usage error.`;

/** Runs `tokenkit token`. */
export async function tokenCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  makeOutput: (quiet: boolean) => Output,
  readStdin: () => Promise<string>,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...CONFIG_FLAGS,
      header: { type: 'boolean' },
      json: { type: 'boolean' },
      'include-refresh-token': { type: 'boolean' },
    },
    allowPositionals: false,
  });
  const out = makeOutput(values.quiet === true);
  if (values.help === true) {
    out.result(TOKEN_HELP);
    return EXIT.ok;
  }
  if (values.header === true && values.json === true) throw new UsageError('--header and --json exclude each other');
  if (values['include-refresh-token'] === true && values.json !== true) {
    throw new UsageError('--include-refresh-token goes with --json');
  }
  const config = await readConfig(values, env, out, readStdin);
  const attempt = await runAttempt(config.options, out);
  if (attempt.token === undefined) {
    // A ConfigurationError is the user's input: a usage error. Anything else is what the server (or network) did.
    if (isTokenKitError(attempt.error) && attempt.error.code === 'invalid_option') throw attempt.error;
    const message = isTokenKitError(attempt.error) ? attempt.error.message : String(attempt.error);
    out.warn(`no token: ${message}`);
    out.warn('run tokenkit doctor with the same settings to find out why');
    return EXIT.failure;
  }
  const token = attempt.token;
  if (values.header === true) {
    // Core serves only Bearer tokens (it refuses other token types), so Bearer is the scheme to send.
    out.result(`Authorization: ${token.tokenType} ${token.accessToken}`);
  } else if (values.json === true) {
    const exchange = lastTokenExchange(attempt);
    const body = exchange === undefined ? undefined : await responseJson(exchange);
    const json: Record<string, unknown> = body ?? {
      access_token: token.accessToken,
      token_type: token.tokenType,
      expires_in: Math.round((token.expiresAt - attempt.startedAt) / 1000),
      ...(token.scope === undefined ? {} : { scope: token.scope }),
    };
    if (values['include-refresh-token'] !== true) delete json['refresh_token'];
    out.result(JSON.stringify(json, null, 2));
  } else {
    out.result(token.accessToken);
  }
  return EXIT.ok;
}
