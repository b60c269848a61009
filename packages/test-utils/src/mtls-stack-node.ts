// The Node child process of startMtlsStack({ serversIn: 'node' }): `node mtls-stack-node.ts <workDir>`. Reads the
// certificates from <workDir>/input.json, starts the stack in this process, keeps <workDir>/state.json current
// (rewritten before each request is answered) and writes <workDir>/ready.json once the servers listen. It runs
// until its parent stops it.
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCertificates } from './certificates.ts';
import { startMtlsStack, type MtlsStack, type MtlsStackDescription, type MtlsStackState } from './mtls-stack.ts';

const workDir = process.argv[2];
if (workDir === undefined) throw new Error('usage: node mtls-stack-node.ts <workDir>');
const input = JSON.parse(readFileSync(join(workDir, 'input.json'), 'utf8')) as {
  certs: TestCertificates;
  accessTokenTtl?: number;
};

/** Writes `name` whole: a reader never sees half a file. */
const publish = (name: string, value: unknown) => {
  const path = join(workDir, name);
  writeFileSync(`${path}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
};

// Requests arrive while the stack starts (the API reads the provider's JWKS): state is saved once it exists.
const started: { stack?: MtlsStack } = {};
const saveState = () => {
  const { stack } = started;
  if (stack === undefined) return;
  const state: MtlsStackState = {
    tokenRequests: stack.op.tokenRequests,
    mtlsTokenRequests: stack.op.mtls!.tokenRequests,
    apiRequests: [...stack.api.requests],
  };
  publish('state.json', state);
};

const { op, api } = (started.stack = await startMtlsStack(input.certs, {
  serversIn: 'this process',
  accessTokenTtl: input.accessTokenTtl,
  onRequest: saveState,
}));
saveState();
const description: MtlsStackDescription = {
  op: {
    issuer: op.issuer,
    tokenEndpoint: op.tokenEndpoint,
    jwksUri: op.jwksUri,
    resource: op.resource,
    scopes: op.scopes,
    clients: {
      basic: op.clients.basic,
      post: op.clients.post,
      privateKeyJwt: { clientId: op.clients.privateKeyJwt.clientId, privateJwk: op.clients.privateKeyJwt.privateJwk },
    },
    mtls: { origin: op.mtls!.origin, tokenEndpoint: op.mtls!.tokenEndpoint, clients: op.mtls!.clients },
  },
  api: { origin: api.origin },
};
publish('ready.json', description);
