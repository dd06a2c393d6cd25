import { describe, expect, it } from 'vitest';
import { createInterner } from './intern.js';

describe('createInterner', () => {
  it('gives back every string as it was, and what is not a string untouched', () => {
    const canon = createInterner();
    const values = ['application/vnd.oci.image.manifest.v1+json', 'ACTIVE', '', 'ACTIVE', 'ARCHIVED', 'application/vnd.oci.image.manifest.v1+json'];
    expect(values.map((v) => canon(v))).toEqual(values);
    expect(canon(null)).toBeNull();
    expect(canon(undefined)).toBeUndefined();
  });

});
