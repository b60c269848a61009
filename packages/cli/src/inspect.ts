import { parseArgs } from 'node:util';
import { EXIT, UsageError, type Output } from './io.ts';
import { decodeJwt, localTime, relative } from './jwt.ts';

/** `tokenkit inspect --help`. */
export const INSPECT_HELP = `Usage: tokenkit inspect [TOKEN | -] [--json]

Decodes a JWT's header and claims and shows iat, nbf and exp in local time with how long until it expires.
No signature is verified: the output is what the token claims, not proof of it. Reads the token from stdin when
none is given (or with -), so it need not land in your shell history:

  tokenkit token | tokenkit inspect
  tokenkit token --header | tokenkit inspect      # "Authorization: Bearer ..." is understood too

Options:
  --json       print { header, claims, verified: false, expiresAt, expired } as JSON
  -h, --help   this text

Exit codes: 0 decoded and current; 1 not a JWT, encrypted (JWE), expired or not yet valid; 2 usage error.`;

const TIME_CLAIMS = ['iat', 'nbf', 'exp', 'auth_time'] as const;

/** Runs `tokenkit inspect`. */
export async function inspectCommand(argv: string[], out: Output, readStdin: () => Promise<string>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help === true) {
    out.result(INSPECT_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError('inspect takes one token');
  let input = positionals[0];
  if (input === undefined || input === '-') {
    if (input === undefined && process.stdin.isTTY) {
      throw new UsageError('give a token, or pipe one in: tokenkit token | tokenkit inspect');
    }
    input = await readStdin();
  }
  const token = input
    .trim()
    .replace(/^authorization:\s*/i, '')
    .replace(/^(bearer|dpop)\s+/i, '');
  if (token === '') throw new UsageError('the token is empty');
  // The token is the user's own input, but it is still a credential: keep its signature out of what we print.
  out.secrets.add(token);
  out.secrets.add(token.split('.')[2]);

  const decoded = decodeJwt(token);
  const now = Date.now();
  if (decoded === undefined) {
    out.warn(
      `not a JWT: an opaque token of ${token.length} characters. Only the authorization server can say what it ` +
        'grants (token introspection, RFC 7662).',
    );
    return EXIT.failure;
  }
  if (decoded.kind === 'jwe') {
    if (values.json === true) out.line(JSON.stringify({ header: decoded.header, encrypted: true }, null, 2));
    else {
      out.line('An encrypted JWT (JWE): only its header can be read; the claims are for the API that holds the key.');
      out.line();
      printObject(out, 'Header', decoded.header, now);
    }
    return EXIT.failure;
  }

  const { header, claims } = decoded;
  const exp = typeof claims['exp'] === 'number' ? claims['exp'] * 1000 : undefined;
  const nbf = typeof claims['nbf'] === 'number' ? claims['nbf'] * 1000 : undefined;
  const expired = exp !== undefined && exp <= now;
  const notYetValid = nbf !== undefined && nbf > now;

  if (values.json === true) {
    out.line(
      JSON.stringify(
        {
          header,
          claims,
          verified: false,
          expiresAt: exp === undefined ? null : new Date(exp).toISOString(),
          expiresInSeconds: exp === undefined ? null : Math.round((exp - now) / 1000),
          expired,
          notYetValid,
        },
        null,
        2,
      ),
    );
  } else {
    out.line('Signature NOT verified: this is what the token claims, not proof of it.');
    out.line();
    printObject(out, 'Header', header, now);
    out.line();
    printObject(out, 'Claims', claims, now);
    out.line();
    if (exp === undefined) out.line('No exp claim: the token does not say when it expires.');
    else if (expired) out.line(`Expired ${relative(exp, now)} (${localTime(exp)}).`);
    else out.line(`Expires ${relative(exp, now)} (${localTime(exp)}).`);
    if (notYetValid) out.line(`Not valid before ${localTime(nbf)} (${relative(nbf, now)}).`);
  }
  return expired || notYetValid ? EXIT.failure : EXIT.ok;
}

function printObject(out: Output, title: string, object: Record<string, unknown>, now: number): void {
  out.line(title);
  const width = Math.max(0, ...Object.keys(object).map((k) => k.length));
  for (const [name, value] of Object.entries(object)) {
    let text = typeof value === 'string' ? value : JSON.stringify(value);
    if ((TIME_CLAIMS as readonly string[]).includes(name) && typeof value === 'number') {
      text = `${value}  ${localTime(value * 1000)} (${relative(value * 1000, now)})`;
    }
    out.line(`  ${name.padEnd(width)}  ${text}`);
  }
}
