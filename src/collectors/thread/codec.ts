/**
 * What a collector thread sends for each repository result. An observation's tags travel as
 * columns, not as a thousand small objects: strings of a column joined into one text with their
 * lengths beside it, numbers in a Float64Array, anything else as is. Cloning the columns costs a
 * small fraction of cloning the objects, on the sending thread and on the receiving one, and
 * decoding is exact: every tag comes back with the same members, values and member order.
 * Pure: no I/O.
 */
import type { RepositoryObservation, RepositoryResult, TagObservation } from '../types.js';

/** Strings (or nulls) as one text and each one's length; NULL_LENGTH marks a null. */
export interface StringColumn {
  type: 'strings';
  text: string;
  lengths: Uint32Array;
}
export interface NumberColumn {
  type: 'numbers';
  values: Float64Array;
}
export interface ValueColumn {
  type: 'values';
  values: unknown[];
}
export type Column = StringColumn | NumberColumn | ValueColumn;

export const NULL_LENGTH = 0xffffffff;

export interface EncodedTags {
  count: number;
  names: Column;
  digests: Column;
  mediaTypes: Column;
  /** Epoch milliseconds, where `dated[i]` is 1; tags with `pushedAt: null` have 0 there. */
  pushedAt: Float64Array;
  dated: Uint8Array;
  /**
   * Evidence (`extra`) by shape: `shapes` lists each distinct member list (in the order the
   * collector built the object), `shape[i]` is tag i's index into it (-1: no `extra`), and
   * `columns[s][m]` holds member m of the tags of shape s, in tag order.
   */
  shapes: string[][];
  shape: Int32Array;
  columns: Column[][];
}

export type EncodedResult =
  | Exclude<RepositoryResult, { kind: 'observed' }>
  | { kind: 'observed'; observation: Omit<RepositoryObservation, 'tags'> & { tags: EncodedTags } };

export function encodeResult(result: RepositoryResult): EncodedResult {
  if (result.kind !== 'observed') return result;
  const { tags, ...rest } = result.observation;
  return { kind: 'observed', observation: { ...rest, tags: encodeTags(tags) } };
}

export function decodeResult(encoded: EncodedResult): RepositoryResult {
  if (encoded.kind !== 'observed') return encoded;
  const { tags, ...rest } = encoded.observation;
  return { kind: 'observed', observation: { ...rest, tags: decodeTags(tags) } };
}

export function encodeTags(tags: readonly TagObservation[]): EncodedTags {
  const n = tags.length;
  const names: string[] = new Array(n);
  const digests: string[] = new Array(n);
  const mediaTypes: Array<string | null> = new Array(n);
  const pushedAt = new Float64Array(n);
  const dated = new Uint8Array(n);
  const shape = new Int32Array(n);
  const shapes: string[][] = [];
  const values: unknown[][][] = [];
  let last = -1;
  for (let i = 0; i < n; i++) {
    const t = tags[i];
    names[i] = t.tag;
    digests[i] = t.digest;
    mediaTypes[i] = t.mediaType;
    if (t.pushedAt) {
      pushedAt[i] = t.pushedAt.getTime();
      dated[i] = 1;
    }
    const extra = t.extra;
    if (extra === undefined) {
      shape[i] = -1;
      continue;
    }
    // Most tags of a repository share one shape: compared with the last one before anything is allocated.
    let s = last >= 0 && sameKeys(extra, shapes[last]) ? last : -1;
    if (s < 0) {
      const keys = Object.keys(extra);
      s = shapes.findIndex((k) => k.length === keys.length && k.every((key, m) => key === keys[m]));
      if (s < 0) {
        s = shapes.length;
        shapes.push(keys);
        values.push(keys.map(() => []));
      }
    }
    last = s;
    shape[i] = s;
    const keys = shapes[s];
    const columns = values[s];
    for (let m = 0; m < keys.length; m++) columns[m].push(extra[keys[m]]);
  }
  return {
    count: n,
    names: column(names),
    digests: column(digests),
    mediaTypes: column(mediaTypes),
    pushedAt,
    dated,
    shapes,
    shape,
    columns: values.map((members) => members.map(column)),
  };
}

export function decodeTags(e: EncodedTags): TagObservation[] {
  const n = e.count;
  const names = readColumn(e.names) as string[];
  const digests = readColumn(e.digests) as string[];
  const mediaTypes = readColumn(e.mediaTypes) as Array<string | null>;
  const members = e.columns.map((cs) => cs.map(readColumn));
  const next = new Array<number>(e.shapes.length).fill(0);
  const out: TagObservation[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t: TagObservation = { tag: names[i], digest: digests[i], mediaType: mediaTypes[i], pushedAt: e.dated[i] ? new Date(e.pushedAt[i]) : null };
    const s = e.shape[i];
    if (s >= 0) {
      const keys = e.shapes[s];
      const columns = members[s];
      const j = next[s]++;
      const extra: Record<string, unknown> = {};
      for (let m = 0; m < keys.length; m++) extra[keys[m]] = columns[m][j];
      t.extra = extra;
    }
    out[i] = t;
  }
  return out;
}

/**
 * The enumerable keys of `o` are exactly `keys`, in that order (collectors build plain objects, with
 * no inherited enumerable members; an object with any takes the Object.keys path instead).
 */
function sameKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  let m = 0;
  for (const k in o) {
    if (keys[m] !== k) return false;
    m++;
  }
  return m === keys.length;
}

function stringColumn(values: ReadonlyArray<string | null>): StringColumn {
  const lengths = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    lengths[i] = v === null ? NULL_LENGTH : v.length;
  }
  // join writes null as "", which its length marks.
  return { type: 'strings', text: values.join(''), lengths };
}

function readStrings(c: StringColumn): Array<string | null> {
  const out: Array<string | null> = new Array(c.lengths.length);
  let at = 0;
  for (let i = 0; i < c.lengths.length; i++) {
    const len = c.lengths[i];
    if (len === NULL_LENGTH) {
      out[i] = null;
      continue;
    }
    out[i] = c.text.slice(at, at + len);
    at += len;
  }
  return out;
}

/** Strings (and nulls) joined, numbers in a Float64Array, a column of anything else as it is. */
function column(values: unknown[]): Column {
  if (values.every((v) => typeof v === 'string' || v === null)) return stringColumn(values as Array<string | null>);
  if (values.length > 0 && values.every((v) => typeof v === 'number')) {
    const numbers = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) numbers[i] = values[i] as number;
    return { type: 'numbers', values: numbers };
  }
  return { type: 'values', values };
}

function readColumn(c: Column): unknown[] {
  if (c.type === 'strings') return readStrings(c);
  if (c.type === 'numbers') return Array.from(c.values);
  return c.values;
}
