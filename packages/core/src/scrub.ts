/** What replaces a secret in any text tokenkit quotes. */
export const REDACTED = '[REDACTED]';

/**
 * Every form in which a secret we sent can come back in a server's text: as is, form-encoded (both `+` and `%20`
 * for a space), percent-encoded, JSON-escaped, and base64 (standard and URL-safe) for values that travel that way.
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    new URLSearchParams([['', secret]]).toString().slice(1),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
    Buffer.from(secret).toString('base64url'),
  ]);
  forms.add([...forms][1]!.replace(/\+/g, '%20'));
  forms.delete('');
  return [...forms];
}

/**
 * The values of a token request that are secrets: the client secret, password, refresh token, subject and actor
 * tokens, the client assertion, and the `Authorization` header (a Basic header's base64, and what it encodes).
 */
export function sentSecrets(
  params: Readonly<Record<string, string | readonly string[]>>,
  headers: Readonly<Record<string, string>>,
): string[] {
  const out: string[] = [];
  for (const name of [
    'client_secret',
    'password',
    'refresh_token',
    'client_assertion',
    'assertion',
    'subject_token',
    'actor_token',
  ]) {
    const value = params[name];
    if (typeof value === 'string') out.push(value);
  }
  const authorization = headers['authorization'];
  if (authorization !== undefined) {
    out.push(authorization);
    const [scheme, credentials] = authorization.split(' ', 2);
    if (credentials !== undefined) {
      out.push(credentials);
      if (scheme?.toLowerCase() === 'basic') out.push(Buffer.from(credentials, 'base64').toString('utf8'));
    }
  }
  return out;
}

/**
 * Replaces every form of every secret in `text`, longest first, so that no part of a longer secret is left behind
 * by a shorter one's replacement. Any length counts: a short secret is still a secret. Scrub before truncating.
 */
export function scrub(text: string, secrets: Iterable<string | undefined>): string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret !== undefined && secret !== '') for (const form of secretForms(secret)) forms.add(form);
  }
  let out = text;
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join(REDACTED);
  return out;
}
