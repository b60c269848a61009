import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, PEM. */
export interface CertificateAndKey {
  cert: string;
  key: string;
  /** SHA-256 thumbprint of the certificate's DER, base64url: what `cnf.x5t#S256` holds. */
  thumbprint: string;
  /** The certificate's subject as oidc-provider compares it (`CN=...`). */
  subject: string;
}

/** Certificates made for one test run (EC P-256, valid one day). */
export interface TestCertificates {
  /** The test CA's certificate: trust it to reach the test servers, and it issued `client` and `otherClient`. */
  ca: string;
  /** The servers' certificate, for `127.0.0.1` (IP SAN), issued by the CA. */
  server: CertificateAndKey;
  /** A client certificate issued by the CA (`tls_client_auth`). */
  client: CertificateAndKey;
  /** A self-signed client certificate (`self_signed_tls_client_auth`). */
  selfSigned: CertificateAndKey;
  /** Another client certificate issued by the same CA, registered for no client. */
  otherClient: CertificateAndKey;
  /** Another self-signed certificate, registered for no client. */
  otherSelfSigned: CertificateAndKey;
}

/** Whether the `openssl` command is there (node:crypto cannot make X.509 certificates). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a CA, a server certificate for 127.0.0.1 and client certificates with `openssl` in a temporary directory,
 * which is removed before this returns.
 */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-certs-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  const make = (name: string, cn: string, extra: string[]): CertificateAndKey => {
    run(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${cn}`, ...extra]);
    const cert = readFileSync(join(dir, `${name}.crt`), 'utf8');
    return {
      cert,
      key: readFileSync(join(dir, `${name}.key`), 'utf8'),
      thumbprint: createHash('sha256').update(new X509Certificate(cert).raw).digest('base64url'),
      subject: `CN=${cn}`,
    };
  };
  try {
    const ca = make('ca', 'tokenkit test CA', ['-addext', 'basicConstraints=critical,CA:TRUE']);
    const issued = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-addext', 'basicConstraints=CA:FALSE'];
    return {
      ca: ca.cert,
      server: make('server', '127.0.0.1', [...issued, '-addext', 'subjectAltName=IP:127.0.0.1']),
      client: make('client', 'tokenkit-client', issued),
      selfSigned: make('self-signed', 'tokenkit-self-signed', []),
      otherClient: make('other-client', 'tokenkit-other-client', issued),
      otherSelfSigned: make('other-self-signed', 'tokenkit-other-self-signed', []),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
