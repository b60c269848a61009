import { basicAuthorization } from '@tokenkit/core/adapter';
import { type FetchLike } from '@tokenkit/core';
import type { Output } from './io.ts';

/** How a token request authenticated the client, read from the request core sent (never keeping a secret). */
export type AuthSeen =
  | { method: 'client_secret_basic'; encoding: 'form' | 'plain' | 'either' | 'unknown' }
  | { method: 'client_secret_post' | 'private_key_jwt' | 'none' };

/** One HTTP exchange core made through the CLI's `fetch`: what the doctor reports, nothing secret kept. */
export interface Exchange {
  kind: 'discovery' | 'token';
  /** Origin and path, never the query. */
  url: string;
  /** Wall clock when the request was sent and when the answer's headers came, epoch ms. */
  sentAt: number;
  answeredAt?: number;
  status?: number;
  headers?: Headers;
  /** The answer's body, read from a clone (core reads the original). Holds tokens: never printed as is. */
  body?: Promise<string | undefined>;
  /** The network failure (its code), when there was no answer. */
  failure?: string;
  /** For a token request: how the client authenticated, and the grant. */
  auth?: AuthSeen;
  grantType?: string;
}

const BODY_LIMIT = 1024 * 1024;

/**
 * A `fetch` for core that records each exchange in `log` and says on stderr when an answer takes over a second.
 * It changes nothing core sends or receives: the doctor observes core, it does not redo core's protocol work.
 */
export function observingFetch(
  log: Exchange[],
  out: Output,
  client: { clientId: string; clientSecret: string | undefined },
  base: FetchLike = globalThis.fetch,
): FetchLike {
  return async (input, init) => {
    const kind = init.method === 'POST' ? 'token' : 'discovery';
    const exchange: Exchange = { kind, url: describe(input), sentAt: Date.now() };
    if (kind === 'token') {
      const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
      const body = typeof init.body === 'string' ? init.body : '';
      const params = readParams(headers.get('content-type') ?? '', body);
      exchange.auth = authSeen(headers.get('authorization'), params, client);
      const grant = params['grant_type'];
      if (typeof grant === 'string') exchange.grantType = grant;
    }
    log.push(exchange);
    const what = kind === 'token' ? `the token endpoint (${exchange.url})` : `discovery (${exchange.url})`;
    try {
      const response = await out.waitingFor(what, base(input, init));
      exchange.answeredAt = Date.now();
      exchange.status = response.status;
      exchange.headers = response.headers;
      exchange.body = readCapped(response.clone());
      return response;
    } catch (error) {
      exchange.failure = reason(error);
      throw error;
    }
  };
}

function describe(url: string): string {
  try {
    const { origin, pathname } = new URL(url);
    return origin + pathname;
  } catch {
    return '(invalid URL)';
  }
}

function readParams(contentType: string, body: string): Record<string, unknown> {
  if (contentType.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function authSeen(
  authorization: string | null,
  params: Record<string, unknown>,
  client: { clientId: string; clientSecret: string | undefined },
): AuthSeen {
  if (authorization?.startsWith('Basic ')) {
    const { clientId, clientSecret } = client;
    if (clientSecret === undefined) return { method: 'client_secret_basic', encoding: 'unknown' };
    const form = basicAuthorization(clientId, clientSecret, 'form');
    const plain = clientId.includes(':') ? undefined : basicAuthorization(clientId, clientSecret, 'plain');
    const encoding =
      form === plain ? 'either' : authorization === form ? 'form' : authorization === plain ? 'plain' : 'unknown';
    return { method: 'client_secret_basic', encoding };
  }
  if (params['client_assertion'] !== undefined) return { method: 'private_key_jwt' };
  if (params['client_secret'] !== undefined) return { method: 'client_secret_post' };
  return { method: 'none' };
}

async function readCapped(response: Response): Promise<string | undefined> {
  try {
    if (response.body === null) return '';
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      total += value.byteLength;
      if (total > BODY_LIMIT) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return undefined;
  }
}

function reason(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return error instanceof Error ? error.name : 'unknown error';
}
