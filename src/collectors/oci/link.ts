/**
 * Pagination `Link` headers (RFC 8288), as the catalog and tags/list endpoints send them:
 * `Link: </v2/_catalog?last=b&n=100>; rel="next"`. Registries send the target relative to the host
 * (the reference registry) or absolute; it is resolved against the request URL.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
 */

/** The URL of the `rel="next"` link, resolved against `requestUrl`, or null when there is none. */
export function nextLink(header: string | string[] | undefined, requestUrl: string): string | null {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const link of splitLinks(value)) {
      const m = /^\s*<([^>]*)>(.*)$/.exec(link);
      if (!m) continue;
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]);
      const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) return new URL(m[1], requestUrl).toString();
    }
  }
  return null;
}

/** Splits a header value into links at commas outside `<...>` and quoted strings. */
function splitLinks(value: string): string[] {
  const links: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      links.push(value.slice(start, i));
      start = i + 1;
    }
  }
  links.push(value.slice(start));
  return links;
}
