/**
 * What a collector thread sends for each repository result. An observation's tags travel as their
 * columns (collectors/columns.ts), not as a thousand small objects: the strings of a column joined
 * into one text with their lengths beside it, numbers in a Float64Array, flags in a Uint8Array,
 * anything else as is. Cloning a few texts and typed arrays costs a small fraction of cloning the
 * objects, on the sending thread and on the receiving one; the observation arrives with its tags
 * as columns again, so a repository found unchanged never builds its tag objects on either thread.
 * Decoding gives back exactly the columns that were sent. Pure: no I/O.
 */
import { columnarObservation, tagColumns, type TagColumns } from '../columns.js';
import type { RepositoryObservation, RepositoryResult } from '../types.js';

/** Strings (or nulls, or undefined) as one text and each one's length; the two marks stand for null and undefined. */
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
export const UNDEFINED_LENGTH = 0xfffffffe;

export interface EncodedColumns {
  count: number;
  names: Column;
  digests: Column;
  mediaTypes: Column;
  pushedAt: Float64Array;
  hasExtra: Uint8Array;
  members: string[];
  extra: Column[];
}

export type EncodedResult =
  | Exclude<RepositoryResult, { kind: 'observed' }>
  | { kind: 'observed'; observation: Omit<RepositoryObservation, 'tags'> & { tags: EncodedColumns } };

export function encodeResult(result: RepositoryResult): EncodedResult {
  if (result.kind !== 'observed') return result;
  const obs = result.observation;
  return { kind: 'observed', observation: { ...withoutTags(obs), tags: encodeColumns(tagColumns(obs)) } };
}

export function decodeResult(encoded: EncodedResult): RepositoryResult {
  if (encoded.kind !== 'observed') return encoded;
  const { tags, ...rest } = encoded.observation;
  return { kind: 'observed', observation: columnarObservation(rest, decodeColumns(tags)) };
}

/** The observation's members but its tags, read one by one: a spread would build the tag objects. */
function withoutTags(obs: RepositoryObservation): Omit<RepositoryObservation, 'tags'> {
  const out: Omit<RepositoryObservation, 'tags'> = { repository: obs.repository, pullReference: obs.pullReference, protection: obs.protection };
  if (obs.raw !== undefined) out.raw = obs.raw;
  return out;
}

export function encodeColumns(c: TagColumns): EncodedColumns {
  return {
    count: c.count,
    names: column(c.names),
    digests: column(c.digests),
    mediaTypes: column(c.mediaTypes),
    pushedAt: Float64Array.from(c.pushedAt),
    hasExtra: Uint8Array.from(c.hasExtra),
    members: [...c.members],
    extra: c.extra.map(column),
  };
}

export function decodeColumns(e: EncodedColumns): TagColumns {
  return {
    count: e.count,
    names: readColumn(e.names) as string[],
    digests: readColumn(e.digests) as string[],
    mediaTypes: readColumn(e.mediaTypes) as Array<string | null>,
    pushedAt: Array.from(e.pushedAt),
    hasExtra: Array.from(e.hasExtra),
    members: e.members,
    extra: e.extra.map(readColumn),
  };
}

function stringColumn(values: ReadonlyArray<string | null | undefined>): StringColumn {
  const lengths = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    lengths[i] = v === null ? NULL_LENGTH : v === undefined ? UNDEFINED_LENGTH : v.length;
  }
  // join writes null and undefined as "", which their marks stand for.
  return { type: 'strings', text: values.join(''), lengths };
}

function readStrings(c: StringColumn): Array<string | null | undefined> {
  const out: Array<string | null | undefined> = new Array(c.lengths.length);
  let at = 0;
  for (let i = 0; i < c.lengths.length; i++) {
    const len = c.lengths[i];
    if (len === NULL_LENGTH) out[i] = null;
    else if (len === UNDEFINED_LENGTH) out[i] = undefined;
    else {
      out[i] = c.text.slice(at, at + len);
      at += len;
    }
  }
  return out;
}

/** Strings (with nulls and undefined) joined, numbers in a Float64Array, a column of anything else as it is. */
function column(values: readonly unknown[]): Column {
  let strings = true;
  let numbers = values.length > 0;
  for (let i = 0; i < values.length && (strings || numbers); i++) {
    const v = values[i];
    if (typeof v !== 'string' && v !== null && v !== undefined) strings = false;
    if (typeof v !== 'number') numbers = false;
  }
  if (strings) return stringColumn(values as Array<string | null | undefined>);
  if (numbers) return { type: 'numbers', values: Float64Array.from(values as number[]) };
  return { type: 'values', values: [...values] };
}

function readColumn(c: Column): unknown[] {
  if (c.type === 'strings') return readStrings(c);
  if (c.type === 'numbers') return Array.from(c.values);
  return c.values;
}
