import { describe, expect, it } from 'vitest';
import { parseChallenges } from './auth.js';
import { nextLink } from './link.js';
import { baseMediaType } from './media-types.js';
import { parseJson, TagsPage, TokenResponse } from './schema.js';

describe('nextLink', () => {
  const page = 'https://registry.example:5000/v2/team/app/tags/list?n=100';

  it('resolves a host-relative link against the request URL', () => {
    expect(nextLink('</v2/team/app/tags/list?n=100&last=v1.9>; rel="next"', page)).toBe('https://registry.example:5000/v2/team/app/tags/list?n=100&last=v1.9');
  });

  it('keeps an absolute link, and accepts an unquoted rel', () => {
    expect(nextLink('<https://registry.example:5000/v2/_catalog?last=b&n=2>; rel=next', page)).toBe('https://registry.example:5000/v2/_catalog?last=b&n=2');
  });

  it('picks rel="next" among several links and ignores the others', () => {
    const header = '</v2/team/app/tags/list?n=100>; rel="first", </v2/team/app/tags/list?n=100&last=b,c>; rel="next"';
    expect(nextLink(header, page)).toBe('https://registry.example:5000/v2/team/app/tags/list?n=100&last=b,c');
    expect(nextLink(['</x>; rel="prev"', '</y>; rel="next"'], page)).toBe('https://registry.example:5000/y');
  });

  it('returns null without a next link', () => {
    expect(nextLink(undefined, page)).toBeNull();
    expect(nextLink('</v2/x>; rel="prev"', page)).toBeNull();
    expect(nextLink('garbage', page)).toBeNull();
  });
});

describe('parseChallenges', () => {
  it('reads a Bearer challenge whose scope holds commas inside quotes', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ]);
  });

  it('reads several challenges, unquoted values and escapes', () => {
    expect(parseChallenges('Basic realm="Registry \\"Realm\\"", Bearer realm=https://a/token,error=insufficient_scope')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "Realm"' } },
      { scheme: 'bearer', params: { realm: 'https://a/token', error: 'insufficient_scope' } },
    ]);
  });

  it('returns nothing for an absent header', () => {
    expect(parseChallenges(undefined)).toEqual([]);
  });
});

describe('schemas', () => {
  it('accepts null tags (a repository whose tags were all deleted) and rejects other shapes', () => {
    expect(parseJson(TagsPage, '{"name":"x","tags":null}', 'GET u')).toEqual({ tags: null });
    expect(() => parseJson(TagsPage, '{"name":"x"}', 'GET u')).toThrow(/^GET u: unexpected response shape \(tags: /);
    expect(() => parseJson(TagsPage, '<html>', 'GET u')).toThrow(/^GET u: response is not valid JSON/);
  });

  it('needs token or access_token in a token response', () => {
    expect(parseJson(TokenResponse, '{"access_token":"t","expires_in":300}', 'token')).toMatchObject({ access_token: 't', expires_in: 300 });
    expect(() => parseJson(TokenResponse, '{"expires_in":300}', 'token')).toThrow('neither "token" nor "access_token" is present');
  });

  it('drops Content-Type parameters', () => {
    expect(baseMediaType('application/vnd.oci.image.manifest.v1+json; charset=utf-8')).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(baseMediaType(undefined)).toBeNull();
  });
});
