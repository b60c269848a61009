// Child process of the expiry-cliff run: one token server and one API per stream,
// on the other core, so the clients' event loop measures only the clients.
// argv[2]: JSON [{ id, expiresIn, latencyMs }]. IPC: 'stats' → counts, 'close' → exit.
import { startApi, startTokenServer, type ApiServer, type TokenServer } from '@tokenkit/test-utils';

interface Spec {
  id: string;
  expiresIn: number;
  latencyMs: number;
}

const specs = JSON.parse(process.argv[2] ?? '[]') as Spec[];
const servers = new Map<string, { tokenServer: TokenServer; api: ApiServer }>();
for (const spec of specs) {
  const tokenServer = await startTokenServer({ expiresIn: spec.expiresIn, latencyMs: spec.latencyMs });
  // The API accepts only tokens this server issued and that have not expired yet.
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  servers.set(spec.id, { tokenServer, api });
}

process.on('message', async (message: { type: string }) => {
  if (message.type === 'stats') {
    const stats: Record<string, { tokenRequests: number; apiRequests: number; unauthorized: number; ok: number }> = {};
    for (const [id, { tokenServer, api }] of servers) {
      stats[id] = {
        tokenRequests: tokenServer.count,
        apiRequests: api.requests.length,
        unauthorized: api.unauthorizedCount,
        ok: api.okCount,
      };
    }
    process.send!({ type: 'stats', stats });
  } else if (message.type === 'close') {
    await Promise.all([...servers.values()].flatMap(({ tokenServer, api }) => [tokenServer.close(), api.close()]));
    process.disconnect();
  }
});

const endpoints: Record<string, { tokenUrl: string; apiOrigin: string }> = {};
for (const [id, { tokenServer, api }] of servers) endpoints[id] = { tokenUrl: tokenServer.url, apiOrigin: api.origin };
process.send!({ type: 'ready', endpoints });
