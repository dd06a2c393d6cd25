/**
 * A repository's tags as columns: one array per field instead of one object per tag.
 *
 * A re-scan in which nothing changed reads every tag, hashes them and throws them away. Built as
 * objects (a TagObservation, its evidence object and its Date per tag), a large repository's tags
 * outlive the young generation while the rest of its pages arrive, and the scan spends its time
 * copying them between heap generations. As columns, a tag is two string references (the ones
 * the registry's answer already holds) and a few numbers in arrays of numbers.
 *
 * A collector may hand its tags over as columns (`columnarObservation`): the observation's `tags`
 * are then built from them the first time something reads them, and from that moment on the
 * objects are the observation's tags (they may be changed or replaced) and the columns are no
 * longer its own. `tagColumns` gives the columns of any observation, built from its objects where
 * it has none. Pure: no I/O.
 */
import type { RepositoryObservation, TagObservation } from './types.js';

export interface TagColumns {
  count: number;
  names: string[];
  digests: string[];
  mediaTypes: Array<string | null>;
  /** Epoch milliseconds; NaN where the registry gave no date. */
  pushedAt: number[];
  /** 1 where the tag has evidence (`extra`, perhaps empty), 0 where it has none. */
  hasExtra: number[];
  /**
   * The evidence, one column per member name: `extra[m][i]` is member `members[m]` of tag i,
   * undefined where tag i has no such member (or no evidence at all).
   */
  members: string[];
  extra: unknown[][];
}

/** Empty columns for a listing whose evidence has these members (in this order, when built). */
export function emptyColumns(members: readonly string[] = []): TagColumns {
  return { count: 0, names: [], digests: [], mediaTypes: [], pushedAt: [], hasExtra: [], members: [...members], extra: members.map(() => []) };
}

/**
 * Columns with room for `capacity` tags, written by index (`count` says how many are written):
 * a collector that knows how many tags its pages hold allocates each column once instead of
 * growing it tag by tag. `trimColumns` cuts them to `count` when fewer were written.
 */
export function sizedColumns(members: readonly string[], capacity: number): TagColumns {
  return {
    count: 0,
    names: new Array<string>(capacity),
    digests: new Array<string>(capacity),
    mediaTypes: new Array<string | null>(capacity),
    pushedAt: new Array<number>(capacity),
    hasExtra: new Array<number>(capacity),
    members: [...members],
    extra: members.map(() => new Array<unknown>(capacity)),
  };
}

/** Cuts sized columns to the tags written (see sizedColumns). */
export function trimColumns(c: TagColumns): TagColumns {
  if (c.names.length !== c.count) {
    for (const column of [c.names, c.digests, c.mediaTypes, c.pushedAt, c.hasExtra, ...c.extra]) column.length = c.count;
  }
  return c;
}

/** The columns of tags given as objects; evidence members in the order they are first met. */
export function columnsOf(tags: readonly TagObservation[]): TagColumns {
  const n = tags.length;
  const c: TagColumns = { count: n, names: new Array(n), digests: new Array(n), mediaTypes: new Array(n), pushedAt: new Array(n), hasExtra: new Array(n), members: [], extra: [] };
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const t = tags[i];
    c.names[i] = t.tag;
    c.digests[i] = t.digest;
    c.mediaTypes[i] = t.mediaType;
    c.pushedAt[i] = t.pushedAt ? t.pushedAt.getTime() : NaN;
    c.hasExtra[i] = t.extra ? 1 : 0;
  }
  for (let i = 0; i < n; i++) {
    const extra = tags[i].extra;
    if (!extra) continue;
    for (const key of Object.keys(extra)) {
      const value = extra[key];
      if (value === undefined) continue;
      let m = index.get(key);
      if (m === undefined) {
        index.set(key, (m = c.members.length));
        c.members.push(key);
        c.extra.push(new Array(n).fill(undefined));
      }
      c.extra[m][i] = value;
    }
  }
  return c;
}

/** Tag i as an object: the evidence with its defined members in column order. */
function tagAt(c: TagColumns, i: number): TagObservation {
  const at = c.pushedAt[i];
  const t: TagObservation = { tag: c.names[i], digest: c.digests[i], mediaType: c.mediaTypes[i], pushedAt: Number.isNaN(at) ? null : new Date(at) };
  const extra = extraAt(c, i);
  if (extra) t.extra = extra;
  return t;
}

/** Tag i's evidence, or null where it has none. */
export function extraAt(c: TagColumns, i: number): Record<string, unknown> | null {
  if (!c.hasExtra[i]) return null;
  const extra: Record<string, unknown> = {};
  for (let m = 0; m < c.members.length; m++) {
    const v = c.extra[m][i];
    if (v !== undefined) extra[c.members[m]] = v;
  }
  return extra;
}

export function tagsOf(c: TagColumns): TagObservation[] {
  const out: TagObservation[] = new Array(c.count);
  for (let i = 0; i < c.count; i++) out[i] = tagAt(c, i);
  return out;
}

/**
 * The state behind a columnar observation's `tags`: its columns until `tags` is first read or
 * set, then the tag objects. Kept on the observation under a symbol, not in a closure per
 * observation: an accessor made of new functions for every observation gives every observation a
 * hidden class of its own, and with it a re-scan's columns outlived the young generation and were
 * copied out of it, repository after repository (in one process on L x0.2: 1.06 MB promoted per
 * scavenge, against 0.24 MB with the shared accessor; test/e2e/hidden-classes.test.ts). The one
 * accessor below is shared by every columnar observation.
 */
const STATE = Symbol('tagColumns');

interface ColumnarState {
  columns: TagColumns | null;
  tags: TagObservation[] | null;
}

type Columnar = RepositoryObservation & { [STATE]?: ColumnarState };

const TAGS: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: Columnar): TagObservation[] {
    const state = this[STATE]!;
    if (state.tags === null) {
      state.tags = tagsOf(state.columns!);
      state.columns = null;
    }
    return state.tags;
  },
  set(this: Columnar, value: TagObservation[]) {
    const state = this[STATE]!;
    state.tags = value;
    state.columns = null;
  },
};

/**
 * An observation whose tags are these columns. Its `tags` are built on first read; from then on
 * they are the observation's, and `tagColumns` builds columns from them.
 */
export function columnarObservation(base: Omit<RepositoryObservation, 'tags'>, columns: TagColumns): RepositoryObservation {
  const obs = { ...base } as Columnar;
  Object.defineProperty(obs, STATE, { value: { columns, tags: null } satisfies ColumnarState });
  Object.defineProperty(obs, 'tags', TAGS);
  return obs;
}

/** The observation's tags as columns: its own while its `tags` were never read, else built from them. */
export function tagColumns(obs: RepositoryObservation): TagColumns {
  return (obs as Columnar)[STATE]?.columns ?? columnsOf(obs.tags);
}
