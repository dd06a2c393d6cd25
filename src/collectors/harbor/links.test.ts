import { describe, expect, it } from 'vitest';
import { nextPageUrl, parseLinks } from './links.js';
import { nameInProject, paths, repositorySegment } from './paths.js';

describe('Harbor Link header', () => {
  const page = 'https://harbor.example.com/api/v2.0/projects?page=2&page_size=10';

  it('reads links joined by " , " as Harbor writes them', () => {
    const header = '</api/v2.0/projects?page=1&page_size=10>; rel="prev" , </api/v2.0/projects?page=3&page_size=10>; rel="next"';
    expect(parseLinks(header)).toEqual([
      { url: '/api/v2.0/projects?page=1&page_size=10', rel: ['prev'] },
      { url: '/api/v2.0/projects?page=3&page_size=10', rel: ['next'] },
    ]);
    expect(nextPageUrl(header, page)).toBe('https://harbor.example.com/api/v2.0/projects?page=3&page_size=10');
  });

  it('reads RFC 8288 spelling too: ", " between links, absolute URLs, unquoted rel, commas inside URLs', () => {
    expect(nextPageUrl('<https://h/api/v2.0/x?page=1>; rel=prev, <https://h/api/v2.0/x?page=2&q=a,b>; rel=next', page)).toBe('https://h/api/v2.0/x?page=2&q=a,b');
  });

  it('has no next link on the last page or without a header', () => {
    expect(nextPageUrl('</api/v2.0/projects?page=1&page_size=10>; rel="prev"', page)).toBeNull();
    expect(nextPageUrl(undefined, page)).toBeNull();
    expect(nextPageUrl('', page)).toBeNull();
  });

  it('keeps a double-encoded repository name in a relative link as it is', () => {
    const header = '</api/v2.0/projects/p/repositories/a%252Fb/artifacts?page=2&page_size=100&with_tag=true>; rel="next"';
    expect(nextPageUrl(header, 'http://127.0.0.1:8080/api/v2.0/projects/p/repositories/a%252Fb/artifacts?page=1')).toBe(
      'http://127.0.0.1:8080/api/v2.0/projects/p/repositories/a%252Fb/artifacts?page=2&page_size=100&with_tag=true',
    );
  });
});

describe('Harbor API paths', () => {
  it('encodes repository names twice and references once', () => {
    expect(repositorySegment('svc/api')).toBe('svc%252Fapi');
    expect(repositorySegment('app')).toBe('app');
    expect(paths.artifacts('team-a', 'svc/api')).toBe('/projects/team-a/repositories/svc%252Fapi/artifacts');
    expect(paths.artifactTags('team-a', 'a/b/c', 'sha256:abc')).toBe('/projects/team-a/repositories/a%252Fb%252Fc/artifacts/sha256%3Aabc/tags');
    expect(paths.immutableRules('2024')).toBe('/projects/2024/immutabletagrules');
  });

  it('strips the project from the full repository name', () => {
    expect(nameInProject('team-a', 'team-a/svc/api')).toBe('svc/api');
    expect(nameInProject('team-a', 'team-ab/x')).toBeNull();
    expect(nameInProject('team-a', 'team-a/')).toBeNull();
  });
});
