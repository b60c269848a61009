#!/usr/bin/env node
import { EXIT, Output, UsageError } from './io.ts';
import { Secrets } from './secrets.ts';
import { readAllStdin } from './stdin.ts';

const HELP = `Usage: tokenkit <command> [options]

OAuth 2.0 machine-to-machine tokens from the shell, with @tokenkit/core.

Commands:
  token     print an access token (--header: "Authorization: Bearer ...", --json: the token response)
  doctor    check a provider configuration end to end and say what works, in plain words
  inspect   decode a JWT's header and claims (no verification), with its expiry in local time

Run tokenkit <command> --help for each command's options. Configuration comes from flags, TOKENKIT_* environment
variables or a JSON file (--config); secrets from the environment, a file or stdin.

Exit codes: 0 ok; 1 a failure was found (no token, a configuration that does not work, an expired JWT);
2 usage error (unknown flag, missing or invalid setting).`;

/** Runs the command line and returns the exit code. Exported for nothing but this file's own call. */
async function main(argv: string[]): Promise<number> {
  const secrets = new Secrets();
  let out = new Output(secrets);
  const makeOutput = (quiet: boolean) => (out = new Output(secrets, quiet));
  const [command, ...rest] = argv;
  try {
    switch (command) {
      // Each command is loaded when it runs: @tokenkit/core (and jose) take most of the start-up time, and neither
      // `inspect` nor `--help` needs them.
      case 'token': {
        const { tokenCommand } = await import('./token.ts');
        return await tokenCommand(rest, process.env, makeOutput, readAllStdin);
      }
      case 'doctor': {
        const { doctorCommand } = await import('./doctor.ts');
        return await doctorCommand(rest, process.env, makeOutput, readAllStdin);
      }
      case 'inspect': {
        const { inspectCommand } = await import('./inspect.ts');
        return await inspectCommand(rest, out, readAllStdin);
      }
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        if (command === undefined) {
          // No command is a usage error: the help goes to stderr, stdout stays empty for scripts.
          process.stderr.write(`${HELP}\n`);
          return EXIT.usage;
        }
        out.result(HELP);
        return EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      // An unexpected argument may be a secret typed in the wrong place: say that there was one, not what it was.
      const positional = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
      out.warn(positional ? `tokenkit ${command} takes no arguments besides its flags` : (error as Error).message);
      out.warn(`see tokenkit ${command !== undefined && !command.startsWith('-') ? `${command} ` : ''}--help`);
      return EXIT.usage;
    }
    const { isTokenKitError } = await import('@tokenkit/core');
    if (isTokenKitError(error) && error.code === 'invalid_option') {
      const { HOW_TO_SET } = await import('./config.ts');
      const option = (error as { option?: string }).option ?? '';
      const how = HOW_TO_SET[option] ?? HOW_TO_SET[option.split('.')[0]!];
      out.warn(`configuration: ${error.message}${how === undefined ? '' : ` (set with ${how})`}`);
      return EXIT.usage;
    }
    out.warn(`unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.failure;
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

// `tokenkit token | head -c 20`: a reader that leaves early is not our failure; anything else on stdout is.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? EXIT.ok);
});
process.exitCode = await main(process.argv.slice(2));
