/**
 * True for `localhost`, 127.0.0.0/8 and ::1 — where plain HTTP is allowed. Not for other `*.localhost` names:
 * Node resolves those through the system resolver, which may send them anywhere.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** HTTPS, or HTTP to a loopback address. */
export function isSecureUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** Parses a URL, or returns undefined. */
export function tryParseUrl(input: string | URL, base?: string | URL): URL | undefined {
  try {
    return new URL(input, base);
  } catch {
    return undefined;
  }
}
