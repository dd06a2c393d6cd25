import { describe, expect, it } from 'vitest';
import { parseImageReference, pinnedReference, pullReferenceCandidates } from './reference.js';

const D = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** [reference, registry, path, tag, digest, familiar] */
const valid: Array<[string, string, string, string | null, string | null, boolean]> = [
  ['ubuntu', 'docker.io', 'library/ubuntu', null, null, true],
  ['ubuntu:22.04', 'docker.io', 'library/ubuntu', '22.04', null, true],
  ['team/app', 'docker.io', 'team/app', null, null, true],
  ['team/app:v1', 'docker.io', 'team/app', 'v1', null, true],
  ['docker.io/library/nginx', 'docker.io', 'library/nginx', null, null, false],
  ['docker.io/nginx:1.25', 'docker.io', 'library/nginx', '1.25', null, false],
  ['index.docker.io/nginx', 'docker.io', 'library/nginx', null, null, false],
  ['index.docker.io/team/app:2', 'docker.io', 'team/app', '2', null, false],
  ['registry-1.docker.io/library/redis:7', 'docker.io', 'library/redis', '7', null, false],
  ['localhost/app', 'localhost', 'app', null, null, false],
  ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', null, false],
  [`localhost:5000/a/b/c:1.0@${D}`, 'localhost:5000', 'a/b/c', '1.0', D, false],
  ['ghcr.io/x/y:sha-abc1234', 'ghcr.io', 'x/y', 'sha-abc1234', null, false],
  ['registry.example.com:8443/team/sub/app:1.2.3-rc.1', 'registry.example.com:8443', 'team/sub/app', '1.2.3-rc.1', null, false],
  ['127.0.0.1:5000/shop/api:v1.0.0', '127.0.0.1:5000', 'shop/api', 'v1.0.0', null, false],
  ['[::1]:5000/app:1', '[::1]:5000', 'app', '1', null, false],
  ['[2001:db8::1]/app', '[2001:db8::1]', 'app', null, null, false],
  [`nginx@${D}`, 'docker.io', 'library/nginx', null, D, true],
  [`nginx:1.25@${D}`, 'docker.io', 'library/nginx', '1.25', D, true],
  ['123456789012.dkr.ecr.us-east-1.amazonaws.com/payments/api:v2.3.1', '123456789012.dkr.ecr.us-east-1.amazonaws.com', 'payments/api', 'v2.3.1', null, false],
  ['us-docker.pkg.dev/project/repo/image:latest', 'us-docker.pkg.dev', 'project/repo/image', 'latest', null, false],
  ['Registry.Example.com/app', 'registry.example.com', 'app', null, null, false],
  ['a__b/c--d/e.f_g:T_1', 'docker.io', 'a__b/c--d/e.f_g', 'T_1', null, true],
  ['localhost:5000', 'docker.io', 'library/localhost', '5000', null, true],
  [`quay.io/org/app@sha512:${'a'.repeat(128)}`, 'quay.io', 'org/app', null, `sha512:${'a'.repeat(128)}`, false],
  [`app:${'x'.repeat(128)}`, 'docker.io', 'library/app', 'x'.repeat(128), null, true],
];

/** [reference, part of the error] */
const invalid: Array<[string, string]> = [
  ['', 'empty image reference'],
  [' nginx', 'whitespace'],
  ['nginx latest', 'whitespace'],
  ['Nginx', 'must be lower-case'],
  ['registry.shop.example/Shop/API:v1', 'must be lower-case'],
  ['nginx:', 'empty tag'],
  ['nginx:-bad', 'invalid tag "-bad"'],
  [`nginx:${'x'.repeat(129)}`, 'at most 128'],
  ['nginx@sha256:abc', 'invalid digest'],
  [`nginx@sha256:${'A'.repeat(64)}`, '64 lower-case hex'],
  [`nginx@sha256:${'a'.repeat(63)}`, '64 lower-case hex'],
  [`nginx@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5"'],
  [`@${D}`, 'a digest without a repository name'],
  ['nginx@', 'empty digest'],
  ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'image ID'],
  ['-host.example.com/app', 'invalid registry host'],
  ['registry.example.com/app//x', 'empty path component'],
  ['registry.example.com/', 'empty path component'],
  ['team/-app', 'invalid path component "-app"'],
  ['team/app.', 'invalid path component "app."'],
  ['nginx:1.25:extra', 'invalid path component'],
  [':latest', 'missing repository name'],
  ['${REGISTRY}/app', 'invalid'],
  [`team/${'a'.repeat(256)}`, 'at most 255'],
];

describe('parseImageReference', () => {
  it.each(valid)('%s', (text, registry, path, tag, digest, familiar) => {
    const parsed = parseImageReference(text);
    expect(parsed).toEqual({ ok: true, reference: expect.objectContaining({ text, registry, path, tag, digest, familiar, name: `${registry}/${path}` }) });
  });

  it.each(invalid)('refuses %j', (text, why) => {
    const parsed = parseImageReference(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(why);
  });

  it('has enough cases to mean something', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(30);
  });
});

describe('pinnedReference', () => {
  it('keeps the name and tag as written and appends the digest', () => {
    const r = (t: string) => {
      const p = parseImageReference(t);
      if (!p.ok) throw new Error(p.error);
      return p.reference;
    };
    expect(pinnedReference(r('nginx:1.25'), D)).toBe(`nginx:1.25@${D}`);
    expect(pinnedReference(r('ubuntu'), D)).toBe(`ubuntu:latest@${D}`);
    expect(pinnedReference(r('localhost:5000/a/b:dev'), D)).toBe(`localhost:5000/a/b:dev@${D}`);
    expect(pinnedReference(r(`app:1@${D}`), 'sha256:' + 'b'.repeat(64))).toBe(`app:1@${D}`);
  });

  it('lists every Docker Hub alias as a pull reference candidate', () => {
    expect(pullReferenceCandidates({ registry: 'docker.io', path: 'library/nginx' }).sort()).toEqual([
      'docker.io/library/nginx',
      'index.docker.io/library/nginx',
      'registry-1.docker.io/library/nginx',
    ]);
    expect(pullReferenceCandidates({ registry: 'ghcr.io', path: 'x/y' })).toEqual(['ghcr.io/x/y']);
  });
});
