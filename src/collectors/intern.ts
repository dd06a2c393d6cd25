/**
 * One shared copy of each repeated string of a listing. A registry's answer repeats a few values
 * (media types, image status) for every image, and each arrives as a string of its own; kept in
 * a tag's observation, every copy lives as long as the observation does, and a scan of a large
 * repository spends its time copying them between heap generations. Interned, each value is
 * kept once per listing. Use one interner per field: each compares a value with its last one first.
 */
export type Interner = <T extends string | null | undefined>(value: T) => T;

export function createInterner(): Interner {
  const seen = new Map<string, string>();
  // Most values are the value before: compared with it, they need no hash.
  let last: string | undefined;
  return <T extends string | null | undefined>(value: T): T => {
    if (typeof value !== 'string') return value;
    if (value === last) return last as T;
    let kept = seen.get(value);
    if (kept === undefined) seen.set(value, (kept = value));
    last = kept;
    return kept as T;
  };
}
