import { TokenEndpointError } from './errors.ts';
import { parseJson } from './token-response.ts';
import {
  deadlineIn,
  describeUrl,
  sendWithRetries,
  type Deadline,
  type HttpAnswer,
  type OutgoingRequest,
  type TransportOptions,
} from './transport.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

/** What tokenkit uses from an authorization server's metadata. */
export interface ServerMetadata {
  issuer: string;
  tokenEndpoint: string;
  /** `token_endpoint_auth_methods_supported`, when the server lists it. */
  tokenEndpointAuthMethods: readonly string[] | undefined;
  /** `mtls_endpoint_aliases.token_endpoint` (RFC 8705 §5), when the server names a valid URL there. */
  mtlsTokenEndpoint?: string | undefined;
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

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /**
   * The configured issuer was given as a `URL` object whose path is `/`: its string form ends in a `/` the
   * user never wrote (`String(new URL('https://id.example.com'))` is `https://id.example.com/`), so the
   * document's issuer is accepted with or without that one trailing slash.
   */
  issuerFromUrlObject?: boolean | undefined;
}

const getJson = (): OutgoingRequest => ({ method: 'GET', headers: { accept: 'application/json' } });

/** How many same-origin redirects one discovery URL may take. */
export const MAX_DISCOVERY_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches the issuer's metadata: OpenID Connect discovery first, then RFC 8414.
 * Same-origin redirects are followed (at most {@link MAX_DISCOVERY_REDIRECTS}; Django OAuth
 * Toolkit before 2.4 answers the spec URL with a 301 to one with a trailing slash); a redirect
 * to another origin fails that URL and the next one is tried.
 * The document's `issuer` must equal the configured one exactly, and its
 * token endpoint must be HTTPS (or loopback). Everything, every URL tried
 * included, happens by `deadline` (default: `transport.timeoutMs` from this call).
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export async function discover(
  issuer: string,
  transport: TransportOptions,
  deadline: Deadline = deadlineIn(transport.timeoutMs),
  options: DiscoverOptions = {},
): Promise<ServerMetadata> {
  const failures: string[] = [];
  const metadataTransport: TransportOptions = { ...transport, subject: 'metadata' };
  for (const start of discoveryUrls(issuer)) {
    let url = start;
    let answer: HttpAnswer | undefined;
    for (let hops = 0; ; hops++) {
      try {
        answer = await sendWithRetries(url, getJson, metadataTransport, deadline);
      } catch (error) {
        const message = `discovery of ${issuer} failed: ${(error as Error).message}`;
        throw new TokenEndpointError('discovery_failed', message, { cause: error });
      }
      const location = REDIRECT_STATUSES.has(answer.status) ? answer.headers.get('location') : null;
      if (location === null) break;
      const next = tryParseUrl(location, url);
      const from = new URL(url).origin;
      if (next === undefined || next.origin !== from) {
        // Metadata is the issuer's word on where secrets go: taken only from the issuer's own origin.
        const to = next === undefined ? 'an invalid URL' : `${next.origin}, another origin than ${from}`;
        failures.push(`${describeUrl(url)} redirected to ${to}; not followed`);
        answer = undefined;
        break;
      }
      if (hops === MAX_DISCOVERY_REDIRECTS) {
        failures.push(`${describeUrl(start)} redirected more than ${MAX_DISCOVERY_REDIRECTS} times`);
        answer = undefined;
        break;
      }
      url = next.href;
    }
    if (answer === undefined) continue;
    if (answer.status < 200 || answer.status >= 300) {
      failures.push(`${describeUrl(url)} answered HTTP ${answer.status}`);
      continue;
    }
    return readMetadata(parseJson(answer.text), issuer, url, acceptedIssuers(issuer, options));
  }
  throw new TokenEndpointError('discovery_failed', `discovery of ${issuer} failed: ${failures.join('; ')}`);
}

/** The issuer values a document may name: the configured one, and without its slash when that came from a URL object. */
function acceptedIssuers(issuer: string, options: DiscoverOptions): string[] {
  if (options.issuerFromUrlObject !== true || !issuer.endsWith('/')) return [issuer];
  const url = tryParseUrl(issuer);
  const bareOrigin = url !== undefined && url.pathname === '/' && url.search === '' && url.hash === '';
  return bareOrigin ? [issuer, issuer.slice(0, -1)] : [issuer];
}

function readMetadata(document: unknown, issuer: string, url: string, accepted: readonly string[]): ServerMetadata {
  const fail = (what: string) => new TokenEndpointError('discovery_failed', `metadata at ${describeUrl(url)} ${what}`);
  if (typeof document !== 'object' || document === null) throw fail('is not a JSON object');
  const doc = document as Record<string, unknown>;
  const named = doc['issuer'];
  if (typeof named !== 'string' || !accepted.includes(named)) {
    throw fail(`names issuer ${JSON.stringify(String(doc['issuer']).slice(0, 200))}, not ${JSON.stringify(issuer)}`);
  }
  const endpoint = doc['token_endpoint'];
  const parsed = typeof endpoint === 'string' ? tryParseUrl(endpoint) : undefined;
  if (parsed === undefined) throw fail('has no valid token_endpoint');
  if (!isSecureUrl(parsed)) {
    throw new TokenEndpointError(
      'insecure_endpoint',
      `discovered token endpoint ${describeUrl(parsed.href)} is not HTTPS`,
    );
  }
  const methods = doc['token_endpoint_auth_methods_supported'];
  const aliases = doc['mtls_endpoint_aliases'];
  const alias =
    typeof aliases === 'object' && aliases !== null
      ? (aliases as Record<string, unknown>)['token_endpoint']
      : undefined;
  // Whether it may be used (HTTPS) is decided where mutual TLS is: mtls.ts tokenEndpointFor.
  const mtlsTokenEndpoint = typeof alias === 'string' ? tryParseUrl(alias)?.href : undefined;
  return {
    issuer: named,
    tokenEndpoint: parsed.href,
    tokenEndpointAuthMethods: Array.isArray(methods)
      ? methods.filter((m): m is string => typeof m === 'string')
      : undefined,
    ...(mtlsTokenEndpoint === undefined ? {} : { mtlsTokenEndpoint }),
  };
}
