// DPoP tokens in a shared store (docs/security.md, "DPoP: tokens bound to a key"): processes that share one DPoP
// key share one token through Redis, and it works for each of them, because each signs its proofs with that key.
// A process with another key has another cache key (the thumbprint is in it) and never adopts that token. Real
// counterparts: redis-server, oidc-provider binding tokens to the proof key (cnf.jkt), and test-utils' DPoP API.
import { generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { inspect } from 'node:util';
import {
  startDPoPApi,
  startOidcProvider,
  startRedis,
  type DPoPApi,
  type OidcServer,
  type RedisServer,
} from '@tokenkit/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTokenProvider, redisStore, type TokenEvent, type TokenProvider, type TokenStore } from './index.ts';

let redis: RedisServer, op: OidcServer, api: DPoPApi;
const clients: Redis[] = [];
const encryptionKey = randomBytes(32);

beforeAll(async () => {
  [redis, op] = await Promise.all([startRedis(), startOidcProvider({ dpop: {} })]);
  api = await startDPoPApi({ issuer: op.issuer, jwksUri: op.jwksUri });
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await Promise.all([api?.close(), op?.close(), redis?.stop()]);
});
beforeEach(() => void redis.cli('flushall'));

/** A store on its own Redis connection, as each process of a fleet has. */
function store(): TokenStore {
  const client = new Redis({ host: '127.0.0.1', port: redis.port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {}); // the provider reports store failures itself
  clients.push(client);
  return redisStore({ client, encryptionKey });
}

/** A P-256 private JWK, as a fleet's configuration would hand it to every process. */
const newKey = (): JsonWebKey =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

/** A provider as one process of a fleet has it: its own store connection, its own copy of the shared DPoP key. */
function provider(key: JsonWebKey, events: string[] = []): TokenProvider {
  return createTokenProvider({
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.clients.basic.clientId,
    clientSecret: op.clients.basic.clientSecret,
    dpop: { key: JSON.parse(JSON.stringify(key)) as JsonWebKey },
    store: store(),
    onEvent: (e: TokenEvent) => {
      if (e.type === 'fetch' || e.type === 'store_hit') events.push(e.type);
    },
  });
}

/** A GET of the DPoP API with the headers `tokens` gives for it; answers the status and what the API made of it. */
async function callApi(tokens: TokenProvider, path: string) {
  const url = `${api.origin}${path}`;
  const res = await fetch(url, { headers: { ...(await tokens.requestHeaders('GET', url)) } });
  await res.arrayBuffer();
  return { status: res.status, seen: api.requests.at(-1)! };
}

describe('a DPoP token shared through Redis', () => {
  it('two providers with one key and two store connections: one token request, the token works for both', async () => {
    const key = newKey();
    const firstEvents: string[] = [];
    const secondEvents: string[] = [];
    const first = provider(key, firstEvents);
    await waitReady();
    const before = op.tokenRequests;
    const a = await first.getToken();
    const second = provider(key, secondEvents);
    await waitReady();
    const b = await second.getToken();
    expect(op.tokenRequests - before).toBe(1);
    expect(second.key).toBe(first.key);
    expect(b.accessToken).toBe(a.accessToken);
    expect([a.tokenType, b.tokenType]).toEqual(['DPoP', 'DPoP']);
    expect(firstEvents).toEqual(['fetch']);
    expect(secondEvents).toEqual(['store_hit']);

    // What Redis holds reads back (through a third connection) as a DPoP token, encrypted at rest.
    const stored = await store().get(first.key);
    expect(stored).toMatchObject({ accessToken: a.accessToken, tokenType: 'DPoP' });
    const raw = redis.cli('get', `tokenkit:{${first.key}}`);
    expect(raw).toMatch(/^tkenc1\./);
    expect(raw).not.toContain(a.accessToken);

    // The second provider, which never asked for the token, gets it accepted with proofs of its own.
    for (const [tokens, path] of [
      [second, '/from-second'],
      [first, '/from-first'],
    ] as const) {
      const { status, seen } = await callApi(tokens, path);
      expect(status).toBe(200);
      expect(seen).toMatchObject({ path, refused: undefined, authorization: `DPoP ${a.accessToken}` });
      expect(seen.proof).toMatchObject({ htm: 'GET', htu: `${api.origin}${path}` });
    }
  });

  it('two providers with one key on a cold cache at once: one token request between them', async () => {
    const key = newKey();
    const [first, second] = [provider(key), provider(key)];
    await waitReady();
    const before = op.tokenRequests;
    const [a, b] = await Promise.all([first.getToken(), second.getToken()]);
    expect(op.tokenRequests - before).toBe(1);
    expect(b.accessToken).toBe(a.accessToken);
    expect(b.tokenType).toBe('DPoP');
  });

  it('a provider with another key does not adopt the token: it asks for its own, bound to its key', async () => {
    const key = newKey();
    const shared = await provider(key).getToken();
    const otherEvents: string[] = [];
    const other = provider(newKey(), otherEvents);
    await waitReady();
    const before = op.tokenRequests;
    const own = await other.getToken();
    expect(op.tokenRequests - before).toBe(1);
    expect(otherEvents).toEqual(['fetch']);
    expect(own.tokenType).toBe('DPoP');
    expect(own.accessToken).not.toBe(shared.accessToken);
    expect((await store().get(other.key))?.accessToken).toBe(own.accessToken);
    expect((await callApi(other, '/own')).status).toBe(200);

    // Why it must not adopt it: the shared token with this key's proof is refused (cnf.jkt names the other key).
    const url = `${api.origin}/adopted`;
    const res = await fetch(url, {
      headers: { authorization: `DPoP ${shared.accessToken}`, dpop: other.dpop!.proof('GET', url, shared.accessToken) },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    expect(api.requests.at(-1)?.refused).toBe('invalid_token: cnf.jkt is not the proof key');
  });

  it('neither the DPoP key nor the token shows in the provider or the store', async () => {
    const key = newKey();
    const tokens = provider(key);
    const token = await tokens.getToken();
    const shown = inspect(tokens, { depth: Infinity }) + inspect(store(), { depth: Infinity }) + inspect(token);
    expect(shown).not.toContain(key.d!);
    expect(shown).not.toContain(token.accessToken);
  });
});

/** Every store connection made so far is ready: a store that cannot be reached yet counts as a miss and fetches. */
async function waitReady(): Promise<void> {
  await Promise.all(
    clients.filter((c) => c.status !== 'ready').map((c) => new Promise((resolve) => c.once('ready', resolve))),
  );
}
