// One process of the Redis fleet lane (redis-fleet.ts starts several): a token provider with @tokenkit/redis as its
// store, connected before it reports ready; on the lane's `go` it makes one API call through `withTokens` and reports
// how many token requests it made itself and which token (its jti) it used. Messages go over the IPC channel.
import { once } from 'node:events';
import { createTokenProvider, withTokens } from '@tokenkit/fetch';
import { redisStore } from '@tokenkit/redis';
import { Redis } from 'ioredis';

/** What a member sends the lane. */
export type MemberMessage =
  | { type: 'ready' }
  | { type: 'done'; status: number; jti: string; tokenRequests: number }
  | { type: 'failed'; reason: string };

const need = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this file is started by apps/demo-stack/src/lanes/redis-fleet.ts)`);
  return value;
};
/** Sends a message to the lane; resolves once it is written, so disconnecting after it loses nothing. */
const send = (message: MemberMessage) => new Promise<void>((resolve) => process.send?.(message, () => resolve()));

try {
  // Generous timeouts: several processes start at once on what may be a busy machine, and a store call slower than
  // storeTimeoutMs would count as a miss and cost a token request of its own.
  const redis = new Redis(need('REDIS_URL'), {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 10_000,
  });
  redis.on('error', () => {}); // a failed connection attempt is retried by ioredis; 'ready' below is what counts
  await once(redis, 'ready', { signal: AbortSignal.timeout(30_000) });

  let tokenRequests = 0;
  const tokens = createTokenProvider({
    tokenEndpoint: need('TOKEN_URL'),
    clientId: need('CLIENT_ID'),
    clientSecret: need('CLIENT_SECRET'),
    clientAuthMethod: 'client_secret_post',
    scope: process.env['SCOPE'],
    resource: process.env['RESOURCE'],
    store: redisStore({ client: redis, encryptionKey: need('TOKEN_CACHE_KEY') }),
    storeTimeoutMs: 10_000,
    timeoutMs: 20_000,
    // The demo's tokens live 5 s: served for 4 s (not half their life, as with the default 30 s skew) and never
    // renewed ahead, so a fleet slowed down by a busy machine still needs only the one token.
    refreshSkewSeconds: 1,
    refreshAheadSeconds: 0,
    onEvent: (event) => {
      if (event.type === 'fetch') tokenRequests++;
    },
  });
  const api = withTokens(tokens, { origins: [new URL(need('API_URL')).origin] });

  process.once('message', async () => {
    try {
      const res = await api(new URL('/payments', need('API_URL')), { signal: AbortSignal.timeout(60_000) });
      await res.body?.cancel();
      const { accessToken } = await tokens.getToken();
      const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        jti?: string;
      };
      await send({ type: 'done', status: res.status, jti: claims.jti ?? '?', tokenRequests });
    } catch (error) {
      await send({
        type: 'failed',
        reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    } finally {
      redis.disconnect();
      process.disconnect();
    }
  });
  await send({ type: 'ready' });
} catch (error) {
  await send({ type: 'failed', reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.disconnect?.();
}
