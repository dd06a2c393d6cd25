import { afterEach, describe, expect, it } from 'vitest';
import axios from 'axios';
import { createHash } from 'node:crypto';
import { MediaType, startOciEmulator, type OciEmulator, type OciEmulatorOptions } from './index.js';

let running: OciEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.close()));
  running = [];
});

async function emulator(opts?: OciEmulatorOptions): Promise<OciEmulator> {
  const e = await startOciEmulator(opts);
  running.push(e);
  return e;
}

const http = axios.create({ validateStatus: () => true, responseType: 'text', transformResponse: [(d) => d] });
const json = (body: string) => JSON.parse(body);
const ALL = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest].join(', ');

describe('OCI emulator', () => {
  it('serves the version check with the API version header', async () => {
    const emu = await emulator();
    const res = await http.get(`${emu.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0');
  });

  it('paginates the catalog in lexical order with relative Link headers, and refuses n above the maximum', async () => {
    const emu = await emulator({ catalogMaxEntries: 3 });
    for (const n of ['zeta', 'alpha', 'mid/b', 'mid/a']) emu.pushImage(n, 'v1');
    const first = await http.get(`${emu.url}/v2/_catalog?n=2`);
    expect(json(first.data)).toEqual({ repositories: ['alpha', 'mid/a'] });
    expect(first.headers.link).toBe('</v2/_catalog?last=mid%2Fa&n=2>; rel="next"');
    const second = await http.get(`${emu.url}/v2/_catalog?last=mid%2Fa&n=2`);
    expect(json(second.data)).toEqual({ repositories: ['mid/b', 'zeta'] });
    expect(second.headers.link).toBeUndefined();
    const noN = await http.get(`${emu.url}/v2/_catalog`);
    expect(json(noN.data).repositories).toHaveLength(3);
    const tooMany = await http.get(`${emu.url}/v2/_catalog?n=4`);
    expect(tooMany.status).toBe(400);
    expect(json(tooMany.data).errors[0].code).toBe('PAGINATION_NUMBER_INVALID');
  });

  it('paginates tags/list lexically with n/last, or lists everything unsorted in the 2.8 mode', async () => {
    const emu = await emulator();
    for (const t of ['b', 'a', 'c', '1']) emu.pushImage('repo', t);
    const first = await http.get(`${emu.url}/v2/repo/tags/list?n=3`);
    expect(json(first.data)).toEqual({ name: 'repo', tags: ['1', 'a', 'b'] });
    expect(first.headers.link).toBe('</v2/repo/tags/list?n=3&last=b>; rel="next"');
    const rest = await http.get(`${emu.url}/v2/repo/tags/list?n=3&last=b`);
    expect(json(rest.data)).toEqual({ name: 'repo', tags: ['c'] });
    expect(rest.headers.link).toBeUndefined();

    const quirky = await emulator({ tagsListPagination: 'ignored' });
    for (const t of ['b', 'a', 'c']) quirky.pushImage('repo', t);
    const all = await http.get(`${quirky.url}/v2/repo/tags/list?n=1`);
    expect(json(all.data).tags).toHaveLength(3);
    expect(json(all.data).tags).not.toEqual(['a', 'b', 'c']);
    expect(all.headers.link).toBeUndefined();
  });

  it('serves manifests whose digest is the sha256 of the bytes, by tag and by digest, HEAD and GET alike', async () => {
    const emu = await emulator();
    const pushed = emu.pushImage('team/app', 'v1', { mediaType: MediaType.ociManifest });
    const get = await http.get(`${emu.url}/v2/team/app/manifests/v1`, { headers: { Accept: ALL }, responseType: 'arraybuffer' });
    expect(get.status).toBe(200);
    const bytes = Buffer.from(get.data);
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(pushed.digest);
    expect(get.headers['docker-content-digest']).toBe(pushed.digest);
    expect(get.headers['content-type']).toBe(MediaType.ociManifest);
    expect(JSON.parse(bytes.toString()).mediaType).toBe(MediaType.ociManifest);
    const head = await http.head(`${emu.url}/v2/team/app/manifests/${pushed.digest}`, { headers: { Accept: ALL } });
    expect(head.status).toBe(200);
    expect(head.headers['docker-content-digest']).toBe(pushed.digest);
    expect(Number(head.headers['content-length'])).toBe(bytes.length);
    expect(head.data).toBe('');
  });

  it('negotiates by Accept as the reference registry does', async () => {
    const emu = await emulator();
    const oci = emu.pushImage('repo', 'oci', { mediaType: MediaType.ociManifest });
    emu.pushImage('repo', 'index', { mediaType: MediaType.ociIndex });
    const list = emu.pushImage('repo', 'list', { mediaType: MediaType.dockerManifestList });

    const noOci = await http.get(`${emu.url}/v2/repo/manifests/oci`, { headers: { Accept: MediaType.dockerManifest } });
    expect(noOci.status).toBe(404);
    expect(json(noOci.data).errors[0]).toEqual({ code: 'MANIFEST_UNKNOWN', message: 'OCI manifest found, but accept header does not support OCI manifests' });
    const noOciByDigest = await http.head(`${emu.url}/v2/repo/manifests/${oci.digest}`);
    expect(noOciByDigest.status).toBe(404);
    const noIndex = await http.get(`${emu.url}/v2/repo/manifests/index`, { headers: { Accept: MediaType.ociManifest } });
    expect(json(noIndex.data).errors[0].message).toBe('OCI index found, but accept header does not support OCI indexes');

    // A Docker manifest list asked for by a client that accepts only images: its linux/amd64 image.
    const image = await http.head(`${emu.url}/v2/repo/manifests/list`, { headers: { Accept: MediaType.dockerManifest } });
    expect(image.status).toBe(200);
    expect(image.headers['content-type']).toBe(MediaType.dockerManifest);
    expect(image.headers['docker-content-digest']).not.toBe(list.digest);
    // A Docker v2 image by tag without its type in Accept: 2.8's schema 1 rewrite fails.
    const v2 = emu.pushImage('repo', 'v2', { mediaType: MediaType.dockerManifest });
    const noV2 = await http.get(`${emu.url}/v2/repo/manifests/v2`);
    expect(noV2.status).toBe(400);
    expect(json(noV2.data).errors[0].code).toBe('MANIFEST_INVALID');
    expect((await http.head(`${emu.url}/v2/repo/manifests/${v2.digest}`)).status).toBe(200);
    const whole = await http.head(`${emu.url}/v2/repo/manifests/list`, { headers: { Accept: ALL } });
    expect(whole.headers['docker-content-digest']).toBe(list.digest);
    // Accept given as several headers counts as one list.
    const split = await http.head(`${emu.url}/v2/repo/manifests/oci`, { headers: { Accept: [MediaType.dockerManifest, MediaType.ociManifest] as unknown as string } });
    expect(split.status).toBe(200);
  });

  it('answers errors in the spec format', async () => {
    const emu = await emulator();
    emu.pushImage('known', 'v1');
    emu.pushImage('secret', 'v1');
    emu.denyRepository('secret');
    const unknown = await http.get(`${emu.url}/v2/nope/tags/list`);
    expect(unknown.status).toBe(404);
    expect(json(unknown.data)).toEqual({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry', detail: { name: 'nope' } }] });
    const noTag = await http.get(`${emu.url}/v2/known/manifests/v9`, { headers: { Accept: ALL } });
    expect(json(noTag.data).errors[0].code).toBe('MANIFEST_UNKNOWN');
    const denied = await http.get(`${emu.url}/v2/secret/tags/list`);
    expect(denied.status).toBe(403);
    expect(json(denied.data).errors[0].code).toBe('DENIED');
    const invalid = await http.get(`${emu.url}/v2/Upper/tags/list`);
    expect(json(invalid.data).errors[0].code).toBe('NAME_INVALID');
    const put = await http.put(`${emu.url}/v2/known/manifests/v2`, '{}');
    expect(put.status).toBe(405);
    expect(json(put.data).errors[0].code).toBe('UNSUPPORTED');
  });

  it('runs the token flow: challenge, token with the scope, insufficient scope, expiry', async () => {
    const emu = await emulator({ auth: { kind: 'bearer', username: 'u', password: 'p', tokenTtlSeconds: 120 } });
    emu.pushImage('a', 'v1');
    emu.pushImage('b', 'v1');
    const challenge = await http.get(`${emu.url}/v2/a/tags/list`);
    expect(challenge.status).toBe(401);
    expect(challenge.headers['www-authenticate']).toBe(`Bearer realm="${emu.url}/token",service="tagledger-emulator",scope="repository:a:pull"`);
    expect(json(challenge.data).errors[0].code).toBe('UNAUTHORIZED');

    const refused = await http.get(`${emu.url}/token?service=tagledger-emulator&scope=repository:a:pull`);
    expect(refused.status).toBe(401);
    const granted = await http.get(`${emu.url}/token?service=tagledger-emulator&scope=repository:a:pull`, { auth: { username: 'u', password: 'p' } });
    const token = json(granted.data);
    expect(token).toMatchObject({ token: expect.any(String), access_token: token.token, expires_in: 120 });

    const ok = await http.get(`${emu.url}/v2/a/tags/list`, { headers: { Authorization: `Bearer ${token.token}` } });
    expect(json(ok.data)).toEqual({ name: 'a', tags: ['v1'] });
    const otherRepo = await http.get(`${emu.url}/v2/b/tags/list`, { headers: { Authorization: `Bearer ${token.token}` } });
    expect(otherRepo.status).toBe(401);
    expect(otherRepo.headers['www-authenticate']).toContain('error="insufficient_scope"');
    emu.revokeTokens();
    const revoked = await http.get(`${emu.url}/v2/a/tags/list`, { headers: { Authorization: `Bearer ${token.token}` } });
    expect(revoked.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('requires Basic credentials in basic mode', async () => {
    const emu = await emulator({ auth: { kind: 'basic', username: 'u', password: 'p', realm: 'test' } });
    const anonymous = await http.get(`${emu.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Basic realm="test"');
    const ok = await http.get(`${emu.url}/v2/`, { auth: { username: 'u', password: 'p' } });
    expect(ok.status).toBe(200);
  });

  it('has no catalog in not-found mode, and refuses it to everyone in unauthorized mode', async () => {
    const none = await emulator({ catalog: 'not-found' });
    expect((await http.get(`${none.url}/v2/_catalog`)).status).toBe(404);
    const hub = await emulator({ catalog: 'unauthorized', auth: { kind: 'bearer' } });
    const token = json((await http.get(`${hub.url}/token?service=tagledger-emulator&scope=registry:catalog:*`)).data).token;
    const res = await http.get(`${hub.url}/v2/_catalog`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
  });

  it('moves, deletes and re-creates content through the control API', async () => {
    const emu = await emulator();
    const a = emu.pushImage('repo', 'v1', { content: 'same' });
    const b = emu.pushImage('repo', 'v1-again', { content: 'same', mediaType: a.mediaType });
    expect(b.digest).toBe(a.digest);
    const moved = emu.moveTag('repo', 'v1');
    expect(moved.previousDigest).toBe(a.digest);
    expect(moved.digest).not.toBe(a.digest);
    expect(moved.mediaType).toBe(a.mediaType);
    expect(emu.deleteManifest('repo', a.digest)).toEqual(['v1-again']);
    expect(emu.estate.tags('repo')).toEqual(['v1']);
    expect(emu.deleteTag('repo', 'v1')).toBe(true);
    expect(json((await http.get(`${emu.url}/v2/repo/tags/list`)).data)).toEqual({ name: 'repo', tags: [] });
    emu.deleteRepository('repo');
    expect((await http.get(`${emu.url}/v2/repo/tags/list`)).status).toBe(404);
    expect(() => emu.pushImage('Bad Name', 'v1')).toThrow('invalid repository name');
  });
});
