/** A JWT's decoded parts. Nothing here verifies a signature: it is what the token says, not what is true. */
export type DecodedJwt =
  | { kind: 'jws'; header: Record<string, unknown>; claims: Record<string, unknown> }
  | { kind: 'jwe'; header: Record<string, unknown> };

/** Decodes a compact JWS (header and claims) or the protected header of a JWE; undefined for anything else. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 && parts.length !== 5) return undefined;
  const header = decodePart(parts[0]!);
  if (header === undefined) return undefined;
  if (parts.length === 5) return { kind: 'jwe', header };
  const claims = decodePart(parts[1]!);
  return claims === undefined ? undefined : { kind: 'jws', header, claims };
}

function decodePart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `2026-12-03 23:40:00 +01:00`: local time with its offset, so it cannot be misread as UTC. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** `4 min 55 s`, `2 h 3 min`, `3 days 4 h`: a duration for people. */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 === 0 ? '' : ` ${s % 60} s`}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h${s % 3600 < 60 ? '' : ` ${Math.floor((s % 3600) / 60)} min`}`;
  const days = Math.floor(s / 86400);
  return `${days} day${days === 1 ? '' : 's'}${s % 86400 < 3600 ? '' : ` ${Math.floor((s % 86400) / 3600)} h`}`;
}

/** `in 4 min 55 s` or `4 min 55 s ago`. */
export function relative(ms: number, now: number): string {
  return ms >= now ? `in ${duration(ms - now)}` : `${duration(now - ms)} ago`;
}
