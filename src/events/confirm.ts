/**
 * Does the registry, as the scan after an event saw it, agree with what the event claimed? Pure.
 *
 *   confirmed    the state after the scan is what the event says (the pushed tag points at the
 *                pushed digest; the deleted tag or digest is gone)
 *   unconfirmed  the registry contradicts it (a deleted tag is still there, a pushed tag points
 *                elsewhere or does not exist): the event is kept as evidence, nothing is derived
 *                from it, and the scan's own findings stand
 *   scanned      the scan ran but cannot judge this claim: it names no tag or digest, or a later
 *                event about the same tag in the same batch overrides it
 */
import type { PushAction } from './types.js';

export type CheckStatus = 'confirmed' | 'unconfirmed' | 'scanned';

export interface ClaimToCheck {
  id: number;
  action: PushAction;
  tag: string | null;
  digest: string | null;
}

export interface ClaimVerdict {
  id: number;
  status: CheckStatus;
  note: string;
}

const short = (digest: string) => (digest.length > 19 ? `${digest.slice(0, 19)}…` : digest);

/**
 * `claims` in the order they were received; `present` maps each tag the repository has after the
 * scan to its digest (empty when the repository does not exist).
 */
export function judgeClaims(claims: ClaimToCheck[], present: ReadonlyMap<string, string>): ClaimVerdict[] {
  return claims.map((c, i) => {
    const later = claims.slice(i + 1);
    const overridden = c.tag !== null ? later.some((l) => l.tag === c.tag) : c.digest !== null && later.some((l) => l.digest === c.digest);
    return { id: c.id, ...judge(c, present, overridden) };
  });
}

function judge(c: ClaimToCheck, present: ReadonlyMap<string, string>, overridden: boolean): Omit<ClaimVerdict, 'id'> {
  if (c.tag === null && c.digest === null) return { status: 'scanned', note: 'the event names no tag or digest' };
  const agrees = c.action === 'push' ? pushHolds(c, present) : deleteHolds(c, present);
  if (agrees.holds) return { status: 'confirmed', note: agrees.why };
  if (overridden) return { status: 'scanned', note: `a later event about the same ${c.tag !== null ? 'tag' : 'digest'} followed (${agrees.why})` };
  if (agrees.holds === null) return { status: 'scanned', note: agrees.why };
  return { status: 'unconfirmed', note: `the registry contradicts the event: ${agrees.why}` };
}

function pushHolds(c: ClaimToCheck, present: ReadonlyMap<string, string>): { holds: boolean | null; why: string } {
  if (c.tag === null) {
    // An untagged push: nothing about tags to check (tagledger records tags only).
    return { holds: null, why: `untagged push of ${short(c.digest!)}: no tag to check` };
  }
  const now = present.get(c.tag);
  if (now === undefined) return { holds: false, why: `tag ${c.tag} is not in the repository` };
  if (c.digest === null || now === c.digest) return { holds: true, why: `tag ${c.tag} points at ${short(now)}` };
  return { holds: false, why: `tag ${c.tag} points at ${short(now)}, not ${short(c.digest)}` };
}

function deleteHolds(c: ClaimToCheck, present: ReadonlyMap<string, string>): { holds: boolean; why: string } {
  if (c.tag !== null) {
    const now = present.get(c.tag);
    if (now === undefined) return { holds: true, why: `tag ${c.tag} is gone` };
    return { holds: false, why: `tag ${c.tag} is still there (${short(now)})` };
  }
  const still = [...present].filter(([, d]) => d === c.digest).map(([t]) => t).sort();
  if (!still.length) return { holds: true, why: `no tag points at ${short(c.digest!)}` };
  return { holds: false, why: `${short(c.digest!)} is still tagged ${still.slice(0, 5).join(', ')}${still.length > 5 ? ', …' : ''}` };
}
