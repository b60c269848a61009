// Starts the demo stack and keeps it running until Ctrl-C, printing what a
// sample needs as shell lines to paste:
//
//   pnpm --filter @tokenkit-apps/demo-stack start
//
// TOKENKIT_DEMO_TOKEN_TTL  access token lifetime in seconds (default 5)
// API_TRUST_ISSUER         start only the payments API, trusting this real issuer's tokens
// API_AUDIENCE             with API_TRUST_ISSUER: the audience the API requires
import { startDemoStack, startPaymentsApi } from './stack.ts';

const trustIssuer = process.env['API_TRUST_ISSUER'];
const closers: (() => Promise<void>)[] = [];

if (trustIssuer) {
  const audience = process.env['API_AUDIENCE'];
  if (!audience) throw new Error('API_AUDIENCE is required with API_TRUST_ISSUER');
  const jwksUri = await discoverJwksUri(trustIssuer);
  const api = await startPaymentsApi({ issuer: trustIssuer, jwksUri, audience, typ: false });
  closers.push(api.close);
  console.log(`payments API  ${api.origin}  (trusts ${trustIssuer}, audience ${audience}, keys ${jwksUri})\n`);
  console.log(`export API_URL=${quote(api.origin)}`);
} else {
  const ttl = Number(process.env['TOKENKIT_DEMO_TOKEN_TTL'] ?? 5);
  const stack = await startDemoStack({ tokenTtlSeconds: ttl });
  closers.push(stack.close);
  const { provider, api } = stack;
  console.log(`tokenkit demo stack (access tokens live ${ttl} s)`);
  console.log(
    `  OpenID provider  ${provider.issuer}  token endpoint ${provider.tokenEndpoint}, keys ${provider.jwksUri}`,
  );
  console.log(`  payments API     ${api.origin}  audience ${provider.resource}, stats at ${api.origin}/admin/stats`);
  console.log('\nPaste one block into another shell, then run a sample, e.g. `node apps/axios-sample/src/main.ts`:\n');
  const blocks = [
    ['client_secret_basic (axios-sample)', stack.env('basic')],
    ['client_secret_post (got-sample)', stack.env('post')],
    ['private_key_jwt (ky-sample)', stack.env('privateKeyJwt')],
    ['client_secret_basic with discovery (apollo-sample)', stack.env('basic', 'issuer')],
    ['client_secret_post with discovery (fetch-sample)', stack.env('post', 'issuer')],
  ] as const;
  for (const [title, env] of blocks) {
    console.log(`# ${title}`);
    console.log(
      Object.entries(env)
        .map(([name, value]) => `export ${name}=${quote(value)}`)
        .join('\n'),
    );
    console.log();
  }
}
console.log('Ctrl-C stops the stack.');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all(closers.map((close) => close())).then(() => process.exit(0));
  });
}

function quote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const base = issuer.replace(/\/+$/, '');
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const res = await fetch(base + path);
    if (!res.ok) continue;
    const doc = (await res.json()) as { jwks_uri?: unknown };
    if (typeof doc.jwks_uri === 'string') return doc.jwks_uri;
  }
  throw new Error(`no jwks_uri found in ${issuer}'s discovery documents`);
}
