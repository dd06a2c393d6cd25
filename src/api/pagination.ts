/**
 * Opaque cursors: base64url of `{ l: list, k: key }`. Binding the list name means a cursor from
 * `/scans` given to `/findings` is refused instead of silently skipping rows.
 */
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

export class CursorError extends Error {
  constructor() {
    super('invalid cursor: pass back the nextCursor of the previous page unchanged');
    this.name = 'CursorError';
  }
}

export function encodeCursor<K extends string | number>(list: string, key: K): string {
  return Buffer.from(JSON.stringify({ l: list, k: key })).toString('base64url');
}

export function decodeCursor(list: string, cursor: string | undefined, kind: 'number'): number | undefined;
export function decodeCursor(list: string, cursor: string | undefined, kind: 'string'): string | undefined;
export function decodeCursor(list: string, cursor: string | undefined, kind: 'number' | 'string'): number | string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError();
  }
  if (!parsed || typeof parsed !== 'object') throw new CursorError();
  const { l, k } = parsed as { l?: unknown; k?: unknown };
  if (l !== list) throw new CursorError();
  if (kind === 'number' && (typeof k !== 'number' || !Number.isSafeInteger(k))) throw new CursorError();
  if (kind === 'string' && typeof k !== 'string') throw new CursorError();
  return k as number | string;
}

/** Query-string schema fragment every list accepts. */
export const pageQuery = {
  cursor: { type: 'string', description: 'nextCursor of the previous page (opaque)' },
  limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
} as const;

export function pageResponse(item: object) {
  return {
    type: 'object',
    required: ['items', 'nextCursor'],
    properties: {
      items: { type: 'array', items: item },
      nextCursor: { type: ['string', 'null'], description: 'pass as ?cursor= for the next page; null on the last page' },
    },
  } as const;
}
