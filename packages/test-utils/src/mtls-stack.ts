import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { JWK } from 'jose';
import { makeTestCertificates, type TestCertificates } from './certificates.ts';
import { launch } from './launch.ts';
import { startMtlsApi, type MtlsApi, type MtlsApiRequest } from './mtls-api.ts';
import type { OidcMtls } from './oidc-mtls.ts';
import { startOidcProvider, type OidcServer } from './oidc.ts';

/** What a certificate-bound token test needs: certificates, oidc-provider with mutual TLS, an API that checks the binding. */
export interface MtlsStack {
  certs: TestCertificates;
  op: OidcServer;
  api: MtlsApi;
  close(): Promise<void>;
}

/** Options of {@link startMtlsStack}. */
export interface MtlsStackOptions {
  /** The provider's access token lifetime in seconds. Default 300. */
  accessTokenTtl?: number | undefined;
  /**
   * Where the servers run: in this process, or in a Node child process (`node` from PATH). Default: a Node child
   * when this process is Bun, else this process. Bun's `node:https` server hands a request a socket without
   * `getPeerCertificate()` (oven-sh/bun#16834), so neither oidc-provider nor the API could see the client
   * certificate there; Bun's clients present it fine, and they are what the tests are about.
   */
  serversIn?: 'this process' | 'node' | undefined;
  /** In this process only: called on every request after it is counted or recorded, before it is answered. */
  onRequest?: (() => void) | undefined;
}

/**
 * Starts {@link MtlsStack}: test certificates (openssl; `certs` to reuse ones already made), oidc-provider with
 * `features.mTLS`, and the mTLS API, all on 127.0.0.1 with OS-picked ports; `close()` stops them.
 */
export async function startMtlsStack(
  certs: TestCertificates = makeTestCertificates(),
  options: MtlsStackOptions = {},
): Promise<MtlsStack> {
  const serversIn = options.serversIn ?? ('Bun' in globalThis ? 'node' : 'this process');
  if (serversIn === 'node') return startInNode(certs, options.accessTokenTtl);
  const op = await startOidcProvider({
    mtls: certs,
    ...(options.accessTokenTtl === undefined ? {} : { accessTokenTtl: options.accessTokenTtl }),
    onRequest: options.onRequest,
  });
  const api = await startMtlsApi({
    certificates: certs,
    issuer: op.issuer,
    audience: op.resource,
    onRequest: options.onRequest,
  });
  return {
    certs,
    op,
    api,
    close: async () => {
      await api.close();
      await op.close();
    },
  };
}

/** What the Node child (`mtls-stack-node.ts`) writes to `ready.json` once its servers listen. */
export interface MtlsStackDescription {
  op: Omit<OidcServer, 'tokenRequests' | 'mtls' | 'grants' | 'close' | 'clients'> & {
    clients: {
      basic: OidcServer['clients']['basic'];
      post: OidcServer['clients']['post'];
      privateKeyJwt: { clientId: string; privateJwk: JWK };
    };
    mtls: Omit<OidcMtls, 'tokenRequests'>;
  };
  api: { origin: string };
}

/** What the Node child rewrites in `state.json` on every request, before answering it. */
export interface MtlsStackState {
  tokenRequests: number;
  mtlsTokenRequests: number;
  apiRequests: MtlsApiRequest[];
}

/**
 * The stack in a Node child process. Its counters and the API's records are read from a file the child rewrites
 * (write, then rename) before it answers each request, so they are up to date, synchronously, once an answer is in.
 */
async function startInNode(certs: TestCertificates, accessTokenTtl: number | undefined): Promise<MtlsStack> {
  const workDir = mkdtempSync(join(tmpdir(), 'tokenkit-mtls-stack-'));
  writeFileSync(join(workDir, 'input.json'), JSON.stringify({ certs, accessTokenTtl }), { mode: 0o600 });
  const entry = fileURLToPath(new URL('./mtls-stack-node.ts', import.meta.url));
  const child = launch('the mTLS stack (node)', 'node', [entry, workDir], { workDir });
  try {
    const timeoutMs = 60_000;
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(join(workDir, 'ready.json'))) {
      child.check(deadline, timeoutMs);
      await sleep(20);
    }
  } catch (error) {
    await child.stop();
    throw error;
  }
  const ready = JSON.parse(readFileSync(join(workDir, 'ready.json'), 'utf8')) as MtlsStackDescription;
  const state = () => JSON.parse(readFileSync(join(workDir, 'state.json'), 'utf8')) as MtlsStackState;
  const { privateJwk } = ready.op.clients.privateKeyJwt;
  const op: OidcServer = {
    ...ready.op,
    clients: {
      ...ready.op.clients,
      privateKeyJwt: {
        ...ready.op.clients.privateKeyJwt,
        privateKey: createPrivateKey({ key: privateJwk as never, format: 'jwk' }),
      },
    },
    get tokenRequests() {
      return state().tokenRequests;
    },
    mtls: {
      ...ready.op.mtls,
      get tokenRequests() {
        return state().mtlsTokenRequests;
      },
    },
    grants: undefined,
    close: () => child.stop(),
  };
  const api: MtlsApi = {
    origin: ready.api.origin,
    get requests() {
      // JSON has no undefined: the records get back the fields they have in this process.
      return state().apiRequests.map(({ path, status, reason, presented }) => ({ path, status, reason, presented }));
    },
    close: async () => {
      // One process holds both: op.close() stops it.
    },
  };
  return { certs, op, api, close: () => child.stop() };
}
