import { TokenEndpointError } from './errors.ts';
import { parseJson } from './token-response.ts';
import { describeUrl, sendWithRetries, type TransportOptions } from './transport.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

/** What tokenkit uses from an authorization server's metadata. */
export interface ServerMetadata {
  issuer: string;
  tokenEndpoint: string;
  /** `token_endpoint_auth_methods_supported`, when the server lists it. */
  tokenEndpointAuthMethods: readonly string[] | undefined;
}

/** The two places a metadata document may live, in the order they are tried. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return [
    // OpenID Connect Discovery 1.0 §4: appended to the issuer.
    `${url.origin}${path}/.well-known/openid-configuration`,
    // RFC 8414 §3: inserted between host and path.
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

/**
 * Fetches the issuer's metadata: OpenID Connect discovery first, then RFC 8414.
 * The document's `issuer` must equal the configured one exactly, and its
 * token endpoint must be HTTPS (or loopback).
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discover(issuer: string, transport: TransportOptions): Promise<ServerMetadata> {
  const failures: string[] = [];
  for (const url of discoveryUrls(issuer)) {
    let answer;
    try {
      answer = await sendWithRetries(url, () => ({ method: 'GET', headers: { accept: 'application/json' } }), transport);
    } catch (error) {
      throw new TokenEndpointError('discovery_failed', `discovery of ${issuer} failed: ${(error as Error).message}`, { cause: error });
    }
    if (answer.status < 200 || answer.status >= 300) {
      failures.push(`${describeUrl(url)} answered HTTP ${answer.status}`);
      continue;
    }
    return readMetadata(parseJson(answer.text), issuer, url);
  }
  throw new TokenEndpointError('discovery_failed', `discovery of ${issuer} failed: ${failures.join('; ')}`);
}

function readMetadata(document: unknown, issuer: string, url: string): ServerMetadata {
  const fail = (what: string) => new TokenEndpointError('discovery_failed', `metadata at ${describeUrl(url)} ${what}`);
  if (typeof document !== 'object' || document === null) throw fail('is not a JSON object');
  const doc = document as Record<string, unknown>;
  if (doc['issuer'] !== issuer) {
    throw fail(`names issuer ${JSON.stringify(String(doc['issuer']).slice(0, 200))}, not ${JSON.stringify(issuer)}`);
  }
  const endpoint = doc['token_endpoint'];
  const parsed = typeof endpoint === 'string' ? tryParseUrl(endpoint) : undefined;
  if (parsed === undefined) throw fail('has no valid token_endpoint');
  if (!isSecureUrl(parsed)) {
    throw new TokenEndpointError('insecure_endpoint', `discovered token endpoint ${describeUrl(parsed.href)} is not HTTPS`);
  }
  const methods = doc['token_endpoint_auth_methods_supported'];
  return {
    issuer,
    tokenEndpoint: parsed.href,
    tokenEndpointAuthMethods: Array.isArray(methods) ? methods.filter((m): m is string => typeof m === 'string') : undefined,
  };
}
