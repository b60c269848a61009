// Demo lane: tokens bound to a key (DPoP, RFC 9449), as open-banking APIs want them. A token provider with
// `dpop: true` gets its token with a proof (the provider asks for its nonce first), and `withTokens` sends
// `Authorization: DPoP <token>` with a fresh proof per request; the payments API verifies each proof and the token's
// `cnf.jkt`, and asks for its own nonce, first and again after it changes it. Then the same token, copied, is sent as a
// plain Bearer token and with a proof from another key: both are refused. What the API verified is read back from
// its `GET /admin/dpop`.
import { createHash, randomUUID } from 'node:crypto';
import { createTokenProvider, isTokenKitError, withTokens } from '@tokenkit/fetch';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { DPoPRecord } from '../payments-api.ts';
import { plural, startSample, type Payment } from '../sample-kit.ts';

const demo = startSample({ name: 'dpop', isTokenKitError, readme: 'apps/demo-stack/README.md' });
const { env, need } = demo;

const tokenUrl = need('TOKEN_URL');
/** The statuses of the token endpoint's answers, in order (the provider's `attempt_end` events). */
const tokenAnswers: number[] = [];
const tokens = createTokenProvider({
  tokenEndpoint: tokenUrl,
  clientId: need('CLIENT_ID'),
  clientSecret: need('CLIENT_SECRET'),
  clientAuthMethod: 'client_secret_post',
  scope: env('SCOPE'),
  resource: env('RESOURCE'),
  dpop: true, // a P-256 key generated for this provider, in this process only
  onEvent: (event) => {
    if (event.type === 'attempt_end' && event.operation === 'token' && event.status !== undefined)
      tokenAnswers.push(event.status);
    demo.onTokenEvent(event);
  },
});
const apiUrl = new URL(need('API_URL'));
const api = withTokens(tokens, { origins: [apiUrl.origin] });
const timeout = () => AbortSignal.timeout(15_000);
const binding = tokens.dpop!;
const short = (value: string | undefined) => (value === undefined ? '-' : `${value.slice(0, 8)}…`);

/** What the API judged of DPoP requests so far (its own record; reading it is not recorded). */
async function judged(): Promise<DPoPRecord[]> {
  const answer = await fetch(new URL('/admin/dpop', apiUrl), { signal: timeout() });
  return ((await answer.json()) as { requests: DPoPRecord[] }).requests;
}
const earlier = (await judged()).length; // only this lane's requests count

/** One call through `withTokens`: counted; the body is read, a status other than `expected` is a failure. */
async function call<T>(method: string, path: string, expected: number, body?: unknown): Promise<T | undefined> {
  return demo.call(async () => {
    const res = await api(new URL(path, apiUrl), {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      signal: timeout(),
    });
    if (res.status !== expected) throw new Error(`${method} ${path} answered ${res.status}`);
    return (await res.json()) as T;
  });
}

demo.say(`a provider with dpop: true: its proofs are signed with a P-256 key, thumbprint ${short(binding.thumbprint)}`);

// 1. The token: the provider wants a nonce in the proof of every token request.
const { tokenType, accessToken } = await tokens.getToken();
const claims = decodeJwt(accessToken) as { cnf?: { jkt?: string } };
demo.say(
  `1. token endpoint: ${tokenAnswers.map((status) => `HTTP ${status}`).join(', then ')}` +
    (tokenAnswers[0] === 400 ? ' (400 use_dpop_nonce with a DPoP-Nonce; the retry carried it)' : ''),
);
demo.say(`   token_type ${tokenType}, cnf.jkt ${short(claims.cnf?.jkt)}`);
demo.check(
  tokenAnswers.length === 2 && tokenAnswers[0] === 400 && tokenAnswers[1] === 200,
  "the token endpoint's nonce challenge was answered with one retry carrying the nonce",
);
demo.check(
  tokenType === 'DPoP' && claims.cnf?.jkt === binding.thumbprint,
  "the token is bound to the provider's key (token_type DPoP, cnf.jkt = the key's thumbprint)",
);

// 2. Calls through withTokens: a fresh proof each, for the method and URL sent.
demo.say('2. three calls through withTokens, then the API changes its nonce, then one more call');
const payment = await call<Payment>('POST', '/payments', 201, { amount: 42, currency: 'EUR' });
if (payment !== undefined) await call('GET', `/payments/${payment.id}`, 200);
await call('GET', '/payments', 200);
const rotated = await fetch(new URL('/admin/dpop-nonce', apiUrl), { method: 'POST', signal: timeout() });
demo.check(rotated.status === 204, `POST /admin/dpop-nonce: ${rotated.status}, the API wants a new nonce from now on`);
if (payment !== undefined) await call('POST', `/payments/${payment.id}/refund`, 200);

const records = (await judged()).slice(earlier);
demo.say(`   what the API verified (${plural(records.length, 'request')}):`);
for (const r of records) {
  const proof =
    r.proof !== undefined
      ? `proof htm ${r.proof.htm} htu ${r.proof.htu} jti ${short(r.proof.jti)}`
      : r.error === 'use_dpop_nonce'
        ? "proof without the API's current nonce"
        : 'proof refused';
  const verdict = r.accepted
    ? `accepted, cnf.jkt ${short(r.jkt)} matches the proof key`
    : `401 ${r.error}: ${r.description}`;
  demo.say(`   ${r.method} ${r.path}  ${r.scheme}  ${proof}  → ${verdict}`);
}
const accepted = records.filter((r) => r.accepted);
const challenges = records.filter((r) => r.error === 'use_dpop_nonce');
const jtis = new Set(records.flatMap((r) => (r.proof === undefined ? [] : [r.proof.jti])));
const proofs = records.filter((r) => r.proof !== undefined);
demo.check(
  accepted.length === demo.tally.apiCalls &&
    accepted.every(
      (r) =>
        r.scheme === 'DPoP' &&
        r.proof?.htm === r.method &&
        r.proof.htu === apiUrl.origin + r.path &&
        r.jkt === binding.thumbprint,
    ),
  `${plural(accepted.length, 'call')} accepted, each with scheme DPoP, a proof naming its own method and URL, and the token bound to the key`,
);
demo.check(
  jtis.size === proofs.length,
  `one proof per request: ${plural(jtis.size, 'distinct jti')} in ${plural(proofs.length, 'verified proof')}`,
);
demo.check(
  challenges.length === 2 &&
    challenges.every((c) => {
      const next = records[records.indexOf(c) + 1];
      return next?.accepted === true && next.method === c.method && next.path === c.path;
    }),
  `the API asked for its nonce ${challenges.length === 2 ? 'twice' : plural(challenges.length, 'time')} (first call, and after it changed): each 401 use_dpop_nonce was answered by one retry with the nonce, which later proofs carried`,
);

// 3. The same token in other hands: copied, it is worth nothing without the key.
const stolen = (await tokens.getToken()).accessToken;
const target = new URL('/payments', apiUrl);
demo.say('3. the same token, copied by someone without the key (these are not API calls of the lane):');
const asBearer = await fetch(target, { headers: { authorization: `Bearer ${stolen}` }, signal: timeout() });
const bearerRefusal = (await asBearer.json()) as { error?: string; error_description?: string };
demo.say(
  `   as a plain Bearer token, no proof: ${asBearer.status} ${bearerRefusal.error}: ${bearerRefusal.error_description}`,
);
demo.check(
  asBearer.status === 401 && bearerRefusal.error === 'invalid_token',
  'a DPoP-bound token replayed as Bearer is refused',
);

// A thief with a key of their own signs a proof that passes every other check (the nonce is public: a 401 gives it).
const thief = await generateKeyPair('ES256');
const thiefJwk = await exportJWK(thief.publicKey);
const thiefProof = (nonce?: string) =>
  new SignJWT({
    htm: 'GET',
    htu: target.origin + target.pathname,
    ath: createHash('sha256').update(stolen).digest('base64url'),
    ...(nonce === undefined ? {} : { nonce }),
  })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: thiefJwk })
    .setIssuedAt()
    .setJti(randomUUID())
    .sign(thief.privateKey);
const withThiefProof = async (nonce?: string) =>
  fetch(target, {
    headers: { authorization: `DPoP ${stolen}`, dpop: await thiefProof(nonce) },
    signal: timeout(),
  });
let answer = await withThiefProof();
const nonce = answer.headers.get('dpop-nonce') ?? undefined;
if (answer.status === 401 && nonce !== undefined) {
  await answer.body?.cancel();
  answer = await withThiefProof(nonce);
}
const thiefRefusal = (await answer.json()) as { error?: string; error_description?: string };
demo.say(
  `   as DPoP with a proof from another key (thumbprint ${short(await calculateJwkThumbprint(thiefJwk))}), nonce included: ` +
    `${answer.status} ${thiefRefusal.error}: ${thiefRefusal.error_description}`,
);
demo.check(
  answer.status === 401 &&
    thiefRefusal.error === 'invalid_token' &&
    /cnf\.jkt/.test(thiefRefusal.error_description ?? ''),
  "a proof from any key but the bound one is refused: cnf.jkt names the provider's key",
);

demo.report();
