import { startApi, startRecorder, type ApiServer, type Recorder } from './api-server.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';

/** The servers every adapter test starts: a token endpoint, an API that accepts only its tokens, and a recorder on another origin. */
export interface AdapterServers {
  tokenServer: TokenServer;
  api: ApiServer;
  recorder: Recorder;
  /** Stops all three. */
  close(): Promise<void>;
}

/**
 * Starts the {@link AdapterServers} on 127.0.0.1, ports picked by the OS.
 *
 * @example
 * ```ts
 * let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
 * beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
 * afterAll(() => close());
 * ```
 */
export async function startAdapterServers(): Promise<AdapterServers> {
  const tokenServer = await startTokenServer();
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  const recorder = await startRecorder();
  return {
    tokenServer,
    api,
    recorder,
    close: async () => {
      await Promise.all([tokenServer.close(), api.close(), recorder.close()]);
    },
  };
}

/** The Authorization headers `server` received, from its request number `from` on. */
export function authorizationsSince(server: ApiServer, from: number): (string | undefined)[] {
  return server.requests.slice(from).map((r) => r.authorization);
}

/** What `promise` rejects with; rejects itself if `promise` fulfils. */
export function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection, but the promise fulfilled');
    },
    (error: unknown) => error,
  );
}
