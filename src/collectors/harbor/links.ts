/**
 * Harbor's pagination `Link` header. Harbor writes each link as `<url>; rel="prev|next"` and joins
 * them with " , " (space, comma, space: `Links.String()` in src/lib/link.go of goharbor/harbor), e.g.
 *
 *   Link: </api/v2.0/projects?page=1&page_size=10>; rel="prev" , </api/v2.0/projects?page=3&page_size=10>; rel="next"
 *
 * The URL is the request's path and query (no scheme or host) with `page` and `page_size` replaced.
 * A plain RFC 8288 header (", " between links, absolute URLs) is read the same way.
 */

export interface Link {
  url: string;
  rel: string[];
}

/** Every link in the header, in order. */
export function parseLinks(header: string | string[] | undefined): Link[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const links: Link[] = [];
  for (const value of values) {
    for (const part of splitOutsideBrackets(value)) {
      const m = /^\s*<([^>]*)>(.*)$/s.exec(part);
      if (!m) continue;
      const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(m[2]);
      links.push({ url: m[1], rel: (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean) });
    }
  }
  return links;
}

/** The `rel="next"` URL resolved against the URL of the page that carried it, or null on the last page. */
export function nextPageUrl(header: string | string[] | undefined, pageUrl: string): string | null {
  const next = parseLinks(header).find((l) => l.rel.includes('next'));
  return next ? new URL(next.url, pageUrl).toString() : null;
}

/** Splits at commas that are outside `<...>` and quoted strings (a URL may itself contain commas). */
function splitOutsideBrackets(value: string): string[] {
  const parts: string[] = [];
  let inUrl = false;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (inUrl) {
      if (c === '>') inUrl = false;
    } else if (c === '<') inUrl = true;
    else if (c === '"') quoted = true;
    else if (c === ',') {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts.filter((p) => p.trim() !== '');
}
