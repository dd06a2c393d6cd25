/**
 * The API token: `Authorization: Bearer <token>`, or HTTP Basic with the token as the password (any
 * user name) for browsers, which cannot send a bearer header. Compared in constant time: both sides
 * are hashed first, so the comparison never depends on (or leaks) the token's length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function tokenMatches(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}

/** The secret an Authorization header presents, or null when it presents none we accept. */
export function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  if (scheme === 'bearer') return m[2].trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2].trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export function authorized(expected: string, header: string | undefined): boolean {
  const presented = presentedToken(header);
  return presented !== null && tokenMatches(expected, presented);
}

/** Both schemes are offered, so a browser shows its password prompt. */
/**
 * One challenge per header line: browsers (Chromium) read only the first challenge of a line, so
 * `Bearer ..., Basic ...` on one line would never make them ask for the password.
 */
export const challenge = ['Bearer realm="tagledger"', 'Basic realm="tagledger", charset="UTF-8"'];
