import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { ConfigurationError, type StoredToken } from '@tokenkit/core';

/** Turns a token into the text kept in Redis and back; `decode` answers undefined for anything it cannot read. */
export interface Codec {
  encode(key: string, token: StoredToken): string;
  decode(key: string, value: string): StoredToken | undefined;
}

const VERSION = 'tkenc1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Plain JSON: what `memoryStore()` and any other store keep. */
export const plainCodec: Codec = {
  encode: (_key, token) => JSON.stringify(token),
  decode: (_key, value) => (value.startsWith('{') ? parseToken(value) : undefined),
};

/**
 * AES-256-GCM with a random 96-bit IV per write. The value is
 * `tkenc1.<key id>.<base64url(iv | tag | ciphertext)>`; the key id is an HMAC of
 * the key, so a value written under another key (rotation, misconfiguration) is
 * recognised as a miss without trying it. The cache key is authenticated data:
 * a value copied to another entry does not decrypt.
 */
export function aesGcmCodec(encryptionKey: unknown): Codec {
  const secret = readKey(encryptionKey);
  const kid = createHmac('sha256', secret).update('tokenkit redis key id').digest('base64url').slice(0, 8);
  const prefix = `${VERSION}.${kid}.`;
  const aad = (key: string) => Buffer.from(`${prefix}${key}`, 'utf8');
  return {
    encode(key, token) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', secret, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(key));
      const body = Buffer.concat([cipher.update(JSON.stringify(token), 'utf8'), cipher.final()]);
      return prefix + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    decode(key, value) {
      if (!value.startsWith(prefix)) return undefined;
      const raw = Buffer.from(value.slice(prefix.length), 'base64url');
      if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', secret, raw.subarray(0, IV_BYTES), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(aad(key));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
          'utf8',
        );
        return parseToken(text);
      } catch {
        return undefined; // tampered, truncated or another key with a colliding id
      }
    },
  };
}

/** 32 bytes from a Buffer/Uint8Array or a base64 (or base64url) string. Messages never quote the key. */
function readKey(value: unknown): Buffer {
  let bytes: Buffer;
  if (typeof value === 'string') {
    const text = value.trim();
    if (!BASE64.test(text))
      throw new ConfigurationError(
        'encryptionKey',
        'must be 32 bytes: a Buffer or a base64 string (e.g. `openssl rand -base64 32`)',
      );
    bytes = Buffer.from(text, 'base64'); // Node's base64 decoder also reads the URL-safe alphabet
  } else if (value instanceof Uint8Array) {
    bytes = Buffer.from(value);
  } else {
    throw new ConfigurationError('encryptionKey', 'must be 32 bytes: a Buffer or a base64 string');
  }
  if (bytes.length !== 32)
    throw new ConfigurationError('encryptionKey', `must be 32 bytes for AES-256-GCM, got ${bytes.length}`);
  return bytes;
}

function parseToken(text: string): StoredToken | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const t = value as Partial<Record<keyof StoredToken, unknown>>;
  if (typeof t.accessToken !== 'string' || typeof t.expiresAt !== 'number' || typeof t.receivedAt !== 'number')
    return undefined;
  const token: StoredToken = {
    accessToken: t.accessToken,
    tokenType: t.tokenType === 'N_A' || t.tokenType === 'DPoP' ? t.tokenType : 'Bearer',
    expiresAt: t.expiresAt,
    receivedAt: t.receivedAt,
  };
  if (typeof t.scope === 'string') token.scope = t.scope;
  if (typeof t.refreshToken === 'string') token.refreshToken = t.refreshToken;
  if (typeof t.refreshExpiresAt === 'number') token.refreshExpiresAt = t.refreshExpiresAt;
  if (typeof t.issuedTokenType === 'string') token.issuedTokenType = t.issuedTokenType;
  // Token exchange from a changing subject: without it, no process would take the stored token.
  if (typeof t.subjectHash === 'string') token.subjectHash = t.subjectHash;
  return token;
}
