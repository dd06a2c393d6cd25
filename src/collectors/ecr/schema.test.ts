import { describe, expect, it } from 'vitest';
import { checkDescribeImagesPage, DescribeImagesPage } from './schema.js';

/** zod's verdict on a page, in the form checkDescribeImagesPage gives it. */
function zodVerdict(page: unknown): 'ok' | string[] {
  const parsed = DescribeImagesPage.safeParse(page);
  return parsed.success ? 'ok' : parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`);
}

function handVerdict(page: unknown): 'ok' | string[] {
  const checked = checkDescribeImagesPage(page);
  return checked.success ? 'ok' : checked.issues;
}

const good = {
  imageDigest: 'sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9',
  imageTags: ['v1.2.3', 'latest'],
  imagePushedAt: new Date('2026-03-03T10:00:00Z'),
  imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  artifactMediaType: 'application/vnd.oci.image.config.v1+json',
  imageSizeInBytes: 12345,
  imageStatus: 'ACTIVE',
  registryId: '123456789012',
};

/** Replacement values for each member, the odd ones included. */
const variants: Record<string, unknown[]> = {
  imageDigest: [undefined, null, 5, '', 'bad', 'sha256:', 'SHA256:abc', 'sha256:abc def', 'sha256+x:abc', 'sha256:' + 'a'.repeat(64)],
  imageTags: [undefined, null, 'v1', [], [''], ['v1', 3], [null], ['ok', 'fine']],
  imagePushedAt: [undefined, null, 'yesterday', 1700000000, new Date(Number.NaN), new Date(0)],
  imageManifestMediaType: [undefined, null, 4, ''],
  artifactMediaType: [undefined, 7, 'x'],
  imageSizeInBytes: [undefined, null, '12', Number.NaN, Number.POSITIVE_INFINITY, -1, 0.5],
  imageStatus: [undefined, 4, 'ARCHIVED'],
};

describe('checkDescribeImagesPage', () => {
  it('accepts what zod accepts and refuses what zod refuses, with the same messages', () => {
    const pages: unknown[] = [
      null,
      5,
      'page',
      [],
      {},
      { imageDetails: null },
      { imageDetails: 3 },
      { imageDetails: [3, null, []] },
      { imageDetails: [good], nextToken: 4 },
      { imageDetails: [good], nextToken: 'next' },
      { nextToken: 'only a token' },
    ];
    for (const [member, values] of Object.entries(variants)) {
      for (const v of values) pages.push({ imageDetails: [good, { ...good, [member]: v }] });
    }
    // Two broken members in one image, and broken images after good ones.
    pages.push({ imageDetails: [{ ...good, imageDigest: 'bad', imageStatus: 1, imageTags: [''] }] });
    pages.push({ imageDetails: [good, good, { ...good, imagePushedAt: 'x' }, { imageTags: ['a'] }], nextToken: 1 });

    let refused = 0;
    for (const page of pages) {
      const expected = zodVerdict(page);
      expect(handVerdict(page), JSON.stringify(page)).toEqual(expected);
      if (expected !== 'ok') refused++;
    }
    // The corpus exercises both answers.
    expect(refused).toBeGreaterThan(30);
    expect(pages.length - refused).toBeGreaterThan(10);
  });

  it('hands the SDK objects back as they are, an absent list as empty', () => {
    const details = [good, { imageDigest: good.imageDigest }];
    const checked = checkDescribeImagesPage({ imageDetails: details, nextToken: 't' });
    expect(checked.success).toBe(true);
    if (!checked.success) return;
    expect(checked.data.imageDetails[0]).toBe(good);
    expect(checked.data.nextToken).toBe('t');
    const empty = checkDescribeImagesPage({});
    expect(empty.success && empty.data.imageDetails).toEqual([]);
  });
});
