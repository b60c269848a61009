import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { decodeJwt, jwtVerify, SignJWT, type JWK, type JWTPayload } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** The extension grant the test provider knows: an API key (secret) for a tenant. */
const API_KEY_GRANT = 'urn:example:params:oauth:grant-type:api-key';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';

/** RFC 6749 §5.2 errors with a description (oidc-provider's own classes keep details out of the answer). */
const invalidGrant = (description: string) => new errors.CustomOIDCProviderError('invalid_grant', description);
const invalidRequest = (description: string) => new errors.CustomOIDCProviderError('invalid_request', description);

/** The grant types `registerTestGrants` adds. */
export const TEST_GRANT_TYPES = [TOKEN_EXCHANGE, JWT_BEARER, API_KEY_GRANT];

/** One token issued by a test grant: what the handler read, never a token itself. */
export interface IssuedByGrant {
  grantType: string;
  clientId: string;
  /** `sub` of the issued token (the subject token's, the assertion's, or the tenant). */
  sub: string;
  actorSub: string | undefined;
  audience: string[];
  resource: string[];
  requestedTokenType: string | undefined;
  scope: string | undefined;
}

/** What tests need to drive the grants registered on the test provider. */
export interface TestGrants {
  tokenExchange: string;
  jwtBearer: string;
  /** The extension grant's URI; it takes `api_key` (secret) and `tenant`. */
  apiKeyGrant: string;
  /** The one API key the extension grant accepts. */
  apiKey: string;
  /**
   * An external issuer trusted for JWT-bearer assertions (besides each private_key_jwt client's registered key,
   * for assertions whose `iss` is the client id).
   */
  assertionIssuer: { issuer: string; privateKey: KeyObject; privateJwk: JWK };
  /** Every token issued by these grants, in order. */
  readonly issued: IssuedByGrant[];
}

interface GrantContext {
  issuer: string;
  tokenEndpoint: string;
  resource: string;
  ttl: number;
  signingKey: KeyObject;
  issuerPublicKey: KeyObject;
  /** Public keys of clients that may sign their own JWT-bearer assertions, by client id. */
  clientKeys: Record<string, KeyObject>;
}

/**
 * Registers token exchange (RFC 8693), JWT-bearer (RFC 7523 §2.1) and an API-key extension grant on an oidc-provider
 * instance. Each verifies what it is given and issues a JWT access token signed with the provider's key (so tests
 * verify it against the provider's JWKS) whose `sub` says whom it was issued for.
 */
export function registerTestGrants(provider: Provider, c: GrantContext): TestGrants {
  const issued: IssuedByGrant[] = [];
  const apiKey = `ak-${randomUUID()}`;
  const external = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const assertionIssuer = {
    issuer: 'https://idp.partner.test',
    privateKey: external.privateKey,
    privateJwk: { ...(external.privateKey.export({ format: 'jwk' }) as JWK), kid: 'partner-1', alg: 'ES256' },
  };
  const seenJti = new Set<string>();

  const list = (value: unknown): string[] =>
    value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];

  const issue = async (
    ctx: KoaContextWithOIDC,
    grantType: string,
    sub: string,
    extra: { act?: string | undefined; requestedTokenType?: string | undefined } = {},
  ) => {
    const params = ctx.oidc.params as Record<string, unknown>;
    const audience = list(params['audience']);
    const resource = list(params['resource']);
    const scope = typeof params['scope'] === 'string' ? params['scope'] : undefined;
    const now = Math.floor(Date.now() / 1000);
    const clientId = ctx.oidc.client!.clientId;
    const accessToken = await new SignJWT({
      client_id: clientId,
      ...(scope !== undefined ? { scope } : {}),
      ...(extra.act !== undefined ? { act: { sub: extra.act } } : {}),
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'issuer-key-1', typ: 'at+jwt' })
      .setIssuer(c.issuer)
      .setSubject(sub)
      .setAudience([...audience, ...resource].length > 0 ? [...audience, ...resource] : c.resource)
      .setIssuedAt(now)
      .setExpirationTime(now + c.ttl)
      .setJti(randomUUID())
      .sign(c.signingKey);
    issued.push({
      grantType,
      clientId,
      sub,
      actorSub: extra.act,
      audience,
      resource,
      requestedTokenType: extra.requestedTokenType,
      scope,
    });
    const issuedType = extra.requestedTokenType ?? ACCESS_TOKEN_TYPE;
    ctx.body = {
      access_token: accessToken,
      // RFC 8693 §2.2.1: a token that is not an access token has no token type.
      token_type: issuedType === ACCESS_TOKEN_TYPE ? 'Bearer' : 'N_A',
      expires_in: c.ttl,
      ...(grantType === TOKEN_EXCHANGE ? { issued_token_type: issuedType } : {}),
      ...(scope !== undefined ? { scope } : {}),
    };
  };

  const verifySubject = async (token: unknown, type: unknown, name: string): Promise<JWTPayload> => {
    if (type !== ACCESS_TOKEN_TYPE && type !== JWT_TOKEN_TYPE) throw invalidRequest(`unsupported ${name}_type`);
    try {
      const { payload } = await jwtVerify(String(token), c.issuerPublicKey, { issuer: c.issuer });
      return payload;
    } catch (error) {
      throw invalidGrant(`${name} is invalid (${(error as Error).name})`);
    }
  };

  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const params = ctx.oidc.params as Record<string, unknown>;
      const subject = await verifySubject(params['subject_token'], params['subject_token_type'], 'subject_token');
      let actor: JWTPayload | undefined;
      if (params['actor_token'] !== undefined)
        actor = await verifySubject(params['actor_token'], params['actor_token_type'], 'actor_token');
      const requested = params['requested_token_type'];
      if (requested !== undefined && ![ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, ID_TOKEN_TYPE].includes(String(requested)))
        throw invalidRequest('unsupported requested_token_type');
      await issue(ctx, TOKEN_EXCHANGE, String(subject.sub), {
        act: actor?.sub,
        requestedTokenType: requested === undefined ? undefined : String(requested),
      });
    },
    [
      'subject_token',
      'subject_token_type',
      'actor_token',
      'actor_token_type',
      'requested_token_type',
      'audience',
      'resource',
      'scope',
    ],
    ['audience', 'resource'],
  );

  provider.registerGrantType(
    JWT_BEARER,
    async (ctx) => {
      const assertion = String((ctx.oidc.params as Record<string, unknown>)['assertion'] ?? '');
      let iss: string | undefined;
      try {
        iss = decodeJwt(assertion).iss;
      } catch {
        throw invalidGrant('assertion is not a JWT');
      }
      // The partner IdP's key, or the client's own registered key when it asserts for itself.
      const key =
        iss === assertionIssuer.issuer
          ? external.publicKey
          : iss === ctx.oidc.client!.clientId
            ? c.clientKeys[iss]
            : undefined;
      if (key === undefined) throw invalidGrant('assertion issuer is not trusted');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(assertion, key, {
          issuer: iss!,
          audience: [c.tokenEndpoint, c.issuer],
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
          maxTokenAge: '5 minutes',
        }));
      } catch (error) {
        throw invalidGrant(`assertion is invalid (${(error as Error).name})`);
      }
      // RFC 7523 §3 item 7: an assertion may be used once.
      if (seenJti.has(String(payload.jti))) throw invalidGrant('assertion was used before (jti)');
      seenJti.add(String(payload.jti));
      await issue(ctx, JWT_BEARER, String(payload.sub));
    },
    ['assertion', 'scope', 'resource', 'audience'],
    ['audience', 'resource'],
  );

  provider.registerGrantType(
    API_KEY_GRANT,
    async (ctx) => {
      const params = ctx.oidc.params as Record<string, unknown>;
      if (params['api_key'] !== apiKey) throw invalidGrant('api_key is not known');
      if (typeof params['tenant'] !== 'string') throw invalidRequest('tenant is required');
      await issue(ctx, API_KEY_GRANT, `tenant:${params['tenant']}`);
    },
    ['api_key', 'tenant', 'scope', 'resource', 'audience'],
    ['audience', 'resource'],
  );

  return {
    tokenExchange: TOKEN_EXCHANGE,
    jwtBearer: JWT_BEARER,
    apiKeyGrant: API_KEY_GRANT,
    apiKey,
    assertionIssuer,
    issued,
  };
}
