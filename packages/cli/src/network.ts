import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import { duration, localTime } from './jwt.ts';

/** One finding of a check: what the doctor prints as a line. */
export interface Finding {
  level: 'ok' | 'fail' | 'warn' | 'info';
  text: string;
}

/** A certificate that expires sooner than this is worth a warning. */
const CERT_WARN_MS = 14 * 24 * 3600 * 1000;

/**
 * DNS and TLS of the host a URL names, checked directly (not through core): what the doctor reports when a token
 * request fails with a network error, and the certificate details it shows when it works.
 */
export async function checkHost(url: URL, timeoutMs: number): Promise<Finding[]> {
  const findings: Finding[] = [];
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (isIP(host) !== 0) {
    findings.push({ level: 'ok', text: `${host} is an IP address: no DNS lookup` });
  } else {
    const started = performance.now();
    try {
      const addresses = await lookup(host, { all: true });
      const took = Math.round(performance.now() - started);
      findings.push({
        level: 'ok',
        text: `DNS: ${host} is ${addresses.map((a) => a.address).join(', ')} (${took} ms)`,
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      findings.push({ level: 'fail', text: `DNS: ${host} does not resolve (${code})` });
      return findings;
    }
  }
  if (url.protocol !== 'https:') {
    findings.push({
      level: 'info',
      text: 'plain HTTP: tokenkit allows it only for loopback addresses; anything else must be HTTPS',
    });
    return findings;
  }
  findings.push(...(await checkTls(host, port, timeoutMs)));
  return findings;
}

function checkTls(host: string, port: number, timeoutMs: number): Promise<Finding[]> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({
      host,
      port,
      // SNI is for names only; Node refuses an IP address as servername.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      // Connect even to a certificate we would refuse, so we can say what is wrong with it.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const done = (findings: Finding[]) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(findings);
    };
    const timer = setTimeout(
      () => done([{ level: 'fail', text: `TLS: no handshake with ${host}:${port} within ${timeoutMs} ms` }]),
      timeoutMs,
    );
    socket.once('error', (error: NodeJS.ErrnoException) => {
      done([{ level: 'fail', text: `TLS: cannot connect to ${host}:${port} (${error.code ?? error.message})` }]);
    });
    socket.once('secureConnect', () => {
      const took = Math.round(performance.now() - started);
      const cert = socket.getPeerCertificate();
      const findings: Finding[] = [];
      const about = describeCertificate(cert);
      if (socket.authorized) {
        findings.push({
          level: 'ok',
          text: `TLS: ${socket.getProtocol() ?? 'TLS'} in ${took} ms; certificate trusted`,
        });
      } else {
        const why = String(socket.authorizationError ?? 'not trusted');
        findings.push({
          level: 'fail',
          text:
            `TLS: the certificate is not trusted (${why}): Node refuses it, and so does every token request. ` +
            'A private CA? Give Node its certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
        });
      }
      findings.push({ level: 'info', text: `certificate: ${about}` });
      const validTo = Date.parse(cert.valid_to);
      if (!Number.isNaN(validTo)) {
        const left = validTo - Date.now();
        if (left <= 0) findings.push({ level: 'fail', text: `the certificate expired ${duration(-left)} ago` });
        else if (left < CERT_WARN_MS) {
          findings.push({ level: 'warn', text: `the certificate expires in ${duration(left)}` });
        }
      }
      done(findings);
    });
  });
}

function describeCertificate(cert: PeerCertificate): string {
  const subject = cert.subject?.CN ?? JSON.stringify(cert.subject ?? {});
  const issuer = cert.issuer?.CN ?? cert.issuer?.O ?? '?';
  const names = cert.subjectaltname ? `, names ${cert.subjectaltname}` : '';
  const validTo = Date.parse(cert.valid_to);
  const until = Number.isNaN(validTo) ? cert.valid_to : localTime(validTo);
  return `${subject}${names}, issued by ${issuer}, valid until ${until}`;
}
