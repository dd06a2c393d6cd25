import { describe, expect, it } from 'vitest';
import type { TagObservation } from '../../collectors/types.js';
import type { ProtectionSettings, ProtectionVerdict } from '../../audit/protection.js';
import { prepareObservation, tagStateHash } from './observations.js';
import { columnarObservation, emptyColumns } from '../../collectors/columns.js';

const tag = (name: string, over: Partial<TagObservation> = {}): TagObservation => ({
  tag: name,
  digest: `sha256:${name.padEnd(64, '0').slice(0, 64)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  pushedAt: new Date('2026-03-01T10:00:00.000Z'),
  extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 },
  ...over,
});
const open: ProtectionVerdict = { protected: false, reason: 'not protected: repository is MUTABLE' } as ProtectionVerdict;
const shut: ProtectionVerdict = { protected: true, reason: 'protected: repository is IMMUTABLE' } as ProtectionVerdict;
const hash = (tags: TagObservation[], verdicts: ProtectionVerdict[] = tags.map(() => open)) => tagStateHash(tags, verdicts);

describe('the repository state hash', () => {
  const base = [tag('v1'), tag('v2'), tag('latest')];

  it('does not depend on the order the registry listed the tags in', () => {
    expect(hash([base[2], base[0], base[1]])).toBe(hash(base));
    expect(hash(base)).toMatch(/^v6:[0-9a-f]{64}$/);
    // Many names, in code-unit order whatever their case or script, and a name listed twice.
    const many = ['build-10', 'build-9', 'Build-1', 'ä', 'z', '1.2.3', 'build-10a', '_x'].map((n) => tag(n));
    expect(hash([...many].reverse())).toBe(hash(many));
    const twice = [...many, tag('z')];
    expect(hash([...twice].reverse())).toBe(hash(twice));
    expect(hash(twice)).not.toBe(hash(many));
  });

  it('changes with everything a tag row stores', () => {
    const variants: TagObservation[][] = [
      [tag('v1'), tag('v2'), tag('latest', { digest: `sha256:${'f'.repeat(64)}` })],
      [tag('v1'), tag('v2'), tag('latest2')],
      [tag('v1'), tag('v2')],
      [tag('v1'), tag('v2'), tag('latest', { mediaType: null })],
      [tag('v1'), tag('v2'), tag('latest', { mediaType: 'application/vnd.docker.distribution.manifest.v2+json' })],
      [tag('v1'), tag('v2'), tag('latest', { pushedAt: null })],
      [tag('v1'), tag('v2'), tag('latest', { pushedAt: new Date('2026-03-01T10:00:00.001Z') })],
      [tag('v1'), tag('v2'), tag('latest', { extra: undefined })],
      [tag('v1'), tag('v2'), tag('latest', { extra: { imageStatus: 'ARCHIVED', imageSizeInBytes: 10 } })],
      [tag('v1'), tag('v2'), tag('latest', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 11 } })],
      [tag('v1'), tag('v2'), tag('latest', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: '10' } })],
      [tag('v1'), tag('v2'), tag('latest', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10, note: null } })],
      [tag('v1'), tag('v2'), tag('latest', { extra: { imageStatus: 'ACTIVE' } })],
      // Values moved between tags, or between members, must not cancel out.
      [tag('v1', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 } }), tag('v2', { extra: { imageSizeInBytes: 'ACTIVE', imageStatus: 10 } }), tag('latest')],
      [tag('v1', { extra: { imageStatus: 'ACTIVE' } }), tag('v2', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10, other: 10 } }), tag('latest')],
      [tag('v1', { extra: {} }), tag('v2'), tag('latest')],
      [tag('v1', { extra: { imageStatus: 'ACTIVE,', imageSizeInBytes: 10 } }), tag('v2'), tag('latest')],
    ];
    const hashes = variants.map((v) => hash(v));
    expect(new Set([hash(base), ...hashes]).size).toBe(variants.length + 1);
    expect(hash(base, [open, open, shut])).not.toBe(hash(base));
    expect(hash(base, [open, open, { protected: false, reason: 'not protected: another reason' } as ProtectionVerdict])).not.toBe(hash(base));
  });

  it('tells digests apart however they run together: moved between tags, cut elsewhere, or not well-formed', () => {
    const [d1, d2, d3] = base.map((t) => t.digest);
    const withDigests = (a: string, b: string, c: string) => hash([tag('v1', { digest: a }), tag('v2', { digest: b }), tag('latest', { digest: c })]);
    const variants = [
      withDigests(d1, d2, d3),
      withDigests(d2, d1, d3),
      // The same text end to end, cut at other places.
      withDigests(d1 + d2[0], d2.slice(1), d3),
      withDigests(d1.slice(0, -1), d1.slice(-1) + d2, d3),
      // Lone surrogates, which UTF-8 would turn into the same replacement character.
      withDigests('a\ud800', 'b\ud800', 'c\ud800'),
      withDigests('a\ud800', 'b\ud800', 'c\ud801'),
    ];
    expect(variants[0]).toBe(hash(base));
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('treats what the stored evidence cannot tell apart alike: an undefined member is no member, member order is no order', () => {
    expect(hash([tag('v1', { extra: { imageStatus: 'ACTIVE', gone: undefined, imageSizeInBytes: 10 } }), tag('v2'), tag('latest')])).toBe(hash(base));
    expect(hash([tag('v1', { extra: { imageSizeInBytes: 10, imageStatus: 'ACTIVE' } }), tag('v2'), tag('latest')])).toBe(hash(base));
  });

  it('is the same for tags handed over as columns as for the same tags as objects', () => {
    const listed = [tag('v2', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10, artifactMediaType: 'application/x' } }), tag('v1', { pushedAt: null }), tag('latest', { mediaType: null, extra: {} })];
    const columns = emptyColumns(['imageStatus', 'imageSizeInBytes', 'artifactMediaType', 'unused']);
    for (const t of listed) {
      columns.names.push(t.tag);
      columns.digests.push(t.digest);
      columns.mediaTypes.push(t.mediaType);
      columns.pushedAt.push(t.pushedAt ? t.pushedAt.getTime() : NaN);
      columns.hasExtra.push(1);
      columns.members.forEach((m, k) => columns.extra[k].push(t.extra![m]));
      columns.count++;
    }
    const protection: ProtectionSettings = { kind: 'ecr', mode: 'MUTABLE', filters: [] };
    const observed = columnarObservation({ repository: 'r', pullReference: 'h/r', protection }, columns);
    const fromColumns = prepareObservation(observed);
    expect(fromColumns.columns).toBe(columns);
    expect(fromColumns.stateHash).toBe(hash(listed));
    // Read as objects, the observation's tags are the listed ones, and they hash alike.
    expect(observed.tags).toEqual(listed);
    expect(prepareObservation(observed).columns).not.toBe(columns);
    expect(prepareObservation(observed).stateHash).toBe(fromColumns.stateHash);
    expect(prepareObservation({ ...observed }).stateHash).toBe(fromColumns.stateHash);
  });
});
