import { inspect } from 'node:util';

/**
 * The forms a secret takes on the wire, each of which an error quoting a server's answer could carry: as is,
 * percent- and form-encoded, JSON-escaped, base64, and (with the client id) the HTTP Basic credentials, RFC 6749
 * Appendix B encoded or plain.
 */
export function encodingsOf(secret: string, clientId?: string): Map<string, string> {
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  const base64 = (value: string) => Buffer.from(value, 'utf8').toString('base64');
  const forms = new Map<string, string>([
    ['as is', secret],
    ['percent-encoded', encodeURIComponent(secret)],
    ['form-encoded', form(secret)],
    ['JSON-escaped', JSON.stringify(secret).slice(1, -1)],
    ['base64', base64(secret)],
  ]);
  if (clientId !== undefined) {
    forms.set('in the Basic credentials', base64(`${form(clientId)}:${form(secret)}`));
    forms.set('in plain Basic credentials', base64(`${clientId}:${secret}`));
  }
  return forms;
}

/** The ways an error reaches a log: its message, `String()`, its stack, `util.inspect` (causes included), JSON. */
export function renderingsOf(error: unknown): Map<string, string> {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  let json: string;
  try {
    json = JSON.stringify(error) ?? '';
  } catch (cause) {
    json = `(JSON.stringify threw: ${String(cause)})`;
  }
  return new Map([
    ['message', message],
    ['String()', String(error)],
    ['stack', stack],
    ['util.inspect', inspect(error, { depth: Number.POSITIVE_INFINITY })],
    ['util.inspect (hidden properties too)', inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true })],
    ['JSON.stringify', json],
  ]);
}

/**
 * Where a secret shows up in an error, in any of its {@link encodingsOf forms} and {@link renderingsOf renderings}:
 * `['util.inspect: base64', ...]`; empty when nowhere.
 */
export function findSecret(error: unknown, secret: string, clientId?: string): string[] {
  const found: string[] = [];
  const forms = encodingsOf(secret, clientId);
  for (const [rendering, text] of renderingsOf(error)) {
    for (const [form, value] of forms) if (text.includes(value)) found.push(`${rendering}: ${form}`);
  }
  return found;
}
