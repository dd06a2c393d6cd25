/**
 * ECR tag-mutability exclusion filters (`filterType: WILDCARD`).
 *
 * Reading of the AWS documentation
 * (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html):
 * a filter matches the WHOLE tag, `*` stands for any run of characters (including none) and is the
 * only wildcard, and matching is case-sensitive like tags themselves.
 */
export function ecrFilterMatches(filter: string, tag: string): boolean {
  return compileEcrFilter(filter)(tag);
}

/** `ecrFilterMatches` for one filter and many tags: the filter is split once. */
export function compileEcrFilter(filter: string): (tag: string) => boolean {
  const parts = filter.split('*');
  if (parts.length === 1) return (tag) => tag === filter;
  const first = parts[0];
  const last = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  return (tag) => {
    if (tag.length < first.length + last.length || !tag.startsWith(first) || !tag.endsWith(last)) return false;
    let pos = first.length;
    const end = tag.length - last.length;
    for (const part of middle) {
      const at = tag.indexOf(part, pos);
      if (at === -1 || at + part.length > end) return false;
      pos = at + part.length;
    }
    return true;
  };
}
