import { describe, expect, it } from 'vitest';
import type { TagObservation } from '../../collectors/types.js';
import type { ProtectionVerdict } from '../../audit/protection.js';
import { tagStateHash } from './observations.js';

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
    expect(hash(base)).toMatch(/^v4:[0-9a-f]{64}$/);
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
      [tag('v1', { extra: { imageStatus: 'ACTIVE', imageSizeInBytes: 10 } }), tag('v2', { extra: { imageSizeInBytes: 10, imageStatus: 'ACTIVE' } }), tag('latest')],
      [tag('v1', { extra: { imageStatus: 'ACTIVE,', imageSizeInBytes: 10 } }), tag('v2'), tag('latest')],
    ];
    const hashes = variants.map((v) => hash(v));
    expect(new Set([hash(base), ...hashes]).size).toBe(variants.length + 1);
    expect(hash(base, [open, open, shut])).not.toBe(hash(base));
    expect(hash(base, [open, open, { protected: false, reason: 'not protected: another reason' } as ProtectionVerdict])).not.toBe(hash(base));
  });

  it('treats what the stored evidence cannot tell apart alike: an undefined member is no member', () => {
    expect(hash([tag('v1', { extra: { imageStatus: 'ACTIVE', gone: undefined, imageSizeInBytes: 10 } }), tag('v2'), tag('latest')])).toBe(hash(base));
  });
});
