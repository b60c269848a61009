// Demo lane: tokens bound to a certificate (mutual TLS, RFC 8705), as FAPI 2.0 and many PSD2 banks want them. The
// demo stack speaks plain HTTP, so this lane starts its own HTTPS pair with @tokenkit/test-utils' startMtlsStack:
// certificates made now with openssl (a CA, a server certificate for 127.0.0.1, client certificates), oidc-provider
// with mutual TLS (tls_client_auth, certificate-bound tokens, an mtls_endpoint_aliases token endpoint) and an API
// that accepts a token only over a connection presenting the certificate in its `cnf.x5t#S256`. A provider with
// `tls` gets the token, `withTokens` over undici with the same certificate calls the API; then the same token is
// sent without a certificate and with another one. Without openssl the lane is skipped, which is not a failure.
import { createTokenProvider, isTokenKitError, withTokens } from '@tokenkit/fetch';
import { hasOpenssl, startMtlsStack, type MtlsStack } from '@tokenkit/test-utils';
import { decodeJwt } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { plural, startSample } from '../sample-kit.ts';
import { quietly } from '../stack.ts';

const demo = startSample({ name: 'mtls', isTokenKitError, readme: 'apps/demo-stack/README.md' });
const short = (value: string | undefined) => (value === undefined ? '-' : `${value.slice(0, 8)}…`);

if (!hasOpenssl()) {
  demo.say('openssl is not installed, so this lane cannot make its certificates here.');
  demo.say('To see certificate-bound tokens: apt install openssl (Debian, Ubuntu) or brew install openssl (macOS).');
  demo.report('no openssl (apt install openssl / brew install openssl)');
} else {
  const agents: Agent[] = [];
  let stack: MtlsStack | undefined;
  try {
    stack = await quietly(startMtlsStack);
    const { certs, op, api } = stack;
    const mtls = op.mtls!;
    demo.say(`certificates made with openssl; oidc-provider ${op.issuer} (mTLS token endpoint ${mtls.tokenEndpoint})`);
    demo.say(`and an API ${api.origin} that checks cnf.x5t#S256, both over HTTPS`);

    const tls = { cert: certs.client.cert, key: certs.client.key, ca: certs.ca };
    const tokens = createTokenProvider({
      issuer: op.issuer, // discovery gives mtls_endpoint_aliases.token_endpoint, which asks for the certificate
      clientId: mtls.clients.tlsClientAuth.clientId,
      clientAuthMethod: 'tls_client_auth', // the certificate is the client's credential: no secret
      tls,
      resource: op.resource,
      onEvent: demo.onTokenEvent,
    });
    /** undici's fetch over an Agent presenting `connect`'s certificate (if any) on every connection. */
    const fetchWith = (connect: ConstructorParameters<typeof Agent>[0]) => {
      const agent = new Agent(connect);
      agents.push(agent);
      return (input: string | URL, init?: RequestInit) => undiciFetch(input, { ...init, dispatcher: agent } as never);
    };
    const timeout = () => AbortSignal.timeout(15_000);

    // 1. The token, from the mTLS alias, bound to the client certificate.
    const { accessToken } = await tokens.getToken();
    const bound = (decodeJwt(accessToken)['cnf'] as Record<string, unknown> | undefined)?.['x5t#S256'];
    demo.say(
      `1. tls_client_auth: ${plural(mtls.tokenRequests, 'token request')} to the mTLS alias; the token's cnf.x5t#S256 ${short(String(bound))}, the certificate's ${short(certs.client.thumbprint)}`,
    );
    demo.check(
      bound === certs.client.thumbprint && mtls.tokenRequests === 1,
      'the token came from the mTLS token endpoint and is bound to the client certificate',
    );

    // 2. API calls through withTokens over undici, presenting the same certificate.
    const api$ = withTokens(tokens, { origins: [api.origin], fetch: fetchWith({ connect: tls }) });
    for (const path of ['/accounts', '/accounts/acc-1/balances', '/payments']) {
      const res = await demo.call(async () => {
        const answer = await api$(new URL(path, api.origin), { signal: timeout() });
        if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}`);
        return (await answer.json()) as { boundTo: string };
      });
      if (res !== undefined) demo.say(`2. GET ${path} with the certificate: 200, bound to ${short(res.boundTo)}`);
    }

    // 3. The same token, copied to someone without the certificate's key.
    demo.say('3. the same token, copied by someone without the certificate (these are not API calls of the lane):');
    for (const [label, connect, reason] of [
      ['without a client certificate', { ca: certs.ca }, 'no certificate'],
      [
        'with another certificate from the same CA',
        { cert: certs.otherClient.cert, key: certs.otherClient.key, ca: certs.ca },
        'certificate mismatch',
      ],
    ] as const) {
      const res = await fetchWith({ connect })(new URL('/accounts', api.origin), {
        headers: { authorization: `Bearer ${accessToken}` },
        signal: timeout(),
      });
      const body = (await res.json()) as { error?: string; reason?: string };
      demo.say(`   ${label}: ${res.status} ${body.error} (${body.reason})`);
      demo.check(res.status === 401 && body.reason === reason, `refused ${label}`);
    }
    const accepted = api.requests.filter((r) => r.status === 200);
    demo.check(
      accepted.length === demo.tally.apiCalls && accepted.every((r) => r.presented === certs.client.thumbprint),
      `the API accepted ${plural(accepted.length, 'call')}, each over a connection presenting the bound certificate`,
    );
  } catch (error) {
    demo.fail(`the mTLS lane did not run: ${String(error)}`);
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await stack?.close();
  }
  demo.report();
}
