/**
 * Opaque page tokens, as Google's list methods hand out: a cursor (the last resource name returned)
 * bound to the request it continues, sealed so that an edited or foreign token is refused with
 * INVALID_ARGUMENT. A cursor rather than an offset keeps pages stable while the estate changes
 * between calls, as a real listing does. https://google.aip.dev/158
 */
import { createHmac, randomBytes } from 'node:crypto';

export class PageTokens {
  private readonly key = randomBytes(16);

  /** `scope` names the listing (method + parent + filter) the token continues. */
  issue(scope: string, after: string): string {
    const payload = Buffer.from(JSON.stringify({ s: scope, a: after })).toString('base64url');
    return `${payload}.${this.seal(payload)}`;
  }

  /** The cursor, or null when the token is malformed, tampered with, or from another listing. */
  read(scope: string, token: string): string | null {
    const [payload, seal, extra] = token.split('.');
    if (!payload || !seal || extra !== undefined || seal !== this.seal(payload)) return null;
    try {
      const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s?: unknown; a?: unknown };
      return parsed.s === scope && typeof parsed.a === 'string' ? parsed.a : null;
    } catch {
      return null;
    }
  }

  private seal(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 22);
  }
}

/** Google's documented maximum for every list method used here. */
export const MAX_PAGE_SIZE = 1000;

/**
 * A page of `items` (sorted by `key`) after the cursor. Returns the page and the next token ('' at
 * the end).
 */
export function pageOf<T>(items: T[], key: (item: T) => string, pageSize: number, after: string | null, scope: string, tokens: PageTokens): { page: T[]; nextPageToken: string } {
  const start = after === null ? 0 : firstAfter(items, key, after);
  const page = items.slice(start, start + pageSize);
  const more = start + pageSize < items.length;
  return { page, nextPageToken: more && page.length > 0 ? tokens.issue(scope, key(page[page.length - 1])) : '' };
}

function firstAfter<T>(items: T[], key: (item: T) => string, after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid]) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
