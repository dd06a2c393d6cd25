/**
 * What changed in a repository between what tagledger knew and a COMPLETE new observation.
 * Pure: no I/O. Only complete observations may reach `diffTags`, or a missing tag would be a false
 * "deleted".
 */
import { createHash } from 'node:crypto';

export type TagEventKind = 'created' | 'moved' | 'deleted' | 'restored';

export interface KnownTag {
  tag: string;
  /** The last digest seen; for a deleted tag, the digest it had before it went. */
  digest: string;
  present: boolean;
}

export interface ObservedTag {
  tag: string;
  digest: string;
}

export interface TagEvent {
  kind: TagEventKind;
  tag: string;
  /** The digest now; null for `deleted`. */
  digest: string | null;
  /** The digest before; null for `created`. For `restored`, the digest it had when deleted. */
  previousDigest: string | null;
}

export function diffTags(known: Iterable<KnownTag>, observed: Iterable<ObservedTag>): TagEvent[] {
  const before = new Map<string, KnownTag>();
  for (const k of known) before.set(k.tag, k);
  const events: TagEvent[] = [];
  const seen = new Set<string>();
  for (const o of observed) {
    if (seen.has(o.tag)) throw new Error(`tag "${o.tag}" is listed twice in one observation`);
    seen.add(o.tag);
    const k = before.get(o.tag);
    if (!k) events.push({ kind: 'created', tag: o.tag, digest: o.digest, previousDigest: null });
    else if (!k.present) events.push({ kind: 'restored', tag: o.tag, digest: o.digest, previousDigest: k.digest });
    else if (k.digest !== o.digest) events.push({ kind: 'moved', tag: o.tag, digest: o.digest, previousDigest: k.digest });
  }
  for (const k of before.values()) {
    if (k.present && !seen.has(k.tag)) events.push({ kind: 'deleted', tag: k.tag, digest: null, previousDigest: k.digest });
  }
  return events;
}

/** Every present tag of a repository that is gone from a complete catalog listing is deleted. */
export function repositoryGoneEvents(known: Iterable<KnownTag>): TagEvent[] {
  return diffTags(known, []);
}

/** A stable hash of a tag→digest map: equal maps give equal hashes, whatever the order. */
export function tagMapHash(tags: Iterable<ObservedTag>): string {
  const lines = [...tags].map((t) => `${t.tag} ${t.digest}\n`).sort();
  // One update of the whole text: the same digest as one per line, without a call per tag.
  return `sha256:${createHash('sha256').update(lines.join('')).digest('hex')}`;
}

export function countEvents(events: Iterable<{ kind: TagEventKind }>): Record<TagEventKind, number> {
  const counts = { created: 0, moved: 0, deleted: 0, restored: 0 };
  for (const e of events) counts[e.kind]++;
  return counts;
}
