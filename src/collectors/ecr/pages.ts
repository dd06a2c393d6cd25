/**
 * Reads every page of an SDK paginator, refusing to loop.
 *
 * The SDK paginators request the next page while a `nextToken` comes back; a service that keeps
 * answering with a token it already gave would page forever, and the paginator's
 * `stopOnSameToken` option would instead stop silently and pass a partial list off as complete.
 * A token seen before is therefore an error, and so is an implausible number of pages.
 */
export class RepeatedNextTokenError extends Error {
  constructor(what: string, page: number) {
    super(`${what}: page ${page} returned a nextToken that an earlier page already returned; the listing would never end`);
    this.name = 'RepeatedNextTokenError';
  }
}

/** ECR's default quota is 100,000 images per repository: 100 pages of 1000. Far beyond that is a fault. */
export const MAX_PAGES = 10_000;

export async function readAllPages<P extends { nextToken?: string }>(pages: AsyncIterable<P>, what: string, maxPages = MAX_PAGES): Promise<P[]> {
  const seen = new Set<string>();
  const out: P[] = [];
  for await (const page of pages) {
    out.push(page);
    const token = page.nextToken;
    if (token === undefined || token === '') continue;
    if (seen.has(token)) throw new RepeatedNextTokenError(what, out.length);
    if (out.length >= maxPages) {
      const err = new Error(`${what}: more than ${maxPages} pages; giving up rather than paging without end`);
      err.name = 'TooManyPagesError';
      throw err;
    }
    seen.add(token);
  }
  return out;
}
