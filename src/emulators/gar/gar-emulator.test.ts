/**
 * The GAR emulator, driven by the real `ArtifactRegistryClient` over a loopback gRPC socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import { PassThroughClient } from 'google-auth-library';
import { startGarEmulator, GarEmulatorError, type GarEmulator } from './index.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof ArtifactRegistryClient>[0]>;

const PROJECT = 'acme-prod';
const US = `projects/${PROJECT}/locations/us`;

let emu: GarEmulator;
let client: ArtifactRegistryClient;

beforeAll(async () => {
  emu = await startGarEmulator({
    project: PROJECT,
    repositories: [
      { location: 'us', repository: 'prod', immutableTags: true, labels: { team: 'core' } },
      { location: 'us', repository: 'dev', immutableTags: false },
      { location: 'us', repository: 'legacy' },
      { location: 'us', repository: 'maven', format: 'MAVEN' },
      { location: 'us', repository: 'hub', mode: 'REMOTE_REPOSITORY', remoteUpstream: 'DOCKER_HUB' },
      {
        location: 'us',
        repository: 'all',
        mode: 'VIRTUAL_REPOSITORY',
        virtualUpstreams: [
          { id: 'first', repository: 'prod', priority: 100 },
          { id: 'second', repository: 'dev', priority: 10 },
        ],
      },
    ],
  });
  client = new ArtifactRegistryClient({
    apiEndpoint: emu.host,
    port: emu.port,
    sslCreds: credentials.createInsecure(),
    authClient: new PassThroughClient() as unknown as ClientOptions['authClient'],
  });
});

afterAll(async () => {
  await client?.close();
  await emu?.close();
});

async function grpcError(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error('expected the call to fail');
}

function controlError(fn: () => unknown): GarEmulatorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof GarEmulatorError) return err;
    throw err;
  }
  throw new Error('expected the control call to be refused');
}

describe('repositories', () => {
  it('lists every repository of a location with its settings; absent dockerConfig stays absent', async () => {
    const [repos] = await client.listRepositories({ parent: US, pageSize: 1000 }, { autoPaginate: false });
    expect(repos.map((r) => r.name!.split('/').pop())).toEqual(['all', 'dev', 'hub', 'legacy', 'maven', 'prod']);
    const byId = new Map(repos.map((r) => [r.name!.split('/').pop(), r]));
    expect(byId.get('prod')).toMatchObject({ format: 'DOCKER', mode: 'STANDARD_REPOSITORY', dockerConfig: { immutableTags: true }, labels: { team: 'core' } });
    expect(byId.get('legacy')!.dockerConfig).toBeUndefined();
    expect(byId.get('maven')!.format).toBe('MAVEN');
    expect(byId.get('hub')).toMatchObject({ mode: 'REMOTE_REPOSITORY', remoteRepositoryConfig: { dockerRepository: { publicRepository: 'DOCKER_HUB' } } });
    expect(byId.get('all')!.virtualRepositoryConfig!.upstreamPolicies).toEqual([
      expect.objectContaining({ id: 'first', repository: `${US}/repositories/prod`, priority: 100 }),
      expect.objectContaining({ id: 'second', repository: `${US}/repositories/dev`, priority: 10 }),
    ]);
  });

  it('pages with opaque tokens bound to the listing, and refuses edited or foreign ones', async () => {
    const [first, , raw1] = await client.listRepositories({ parent: US, pageSize: 4 }, { autoPaginate: false });
    expect(first).toHaveLength(4);
    const token = raw1!.nextPageToken!;
    expect(token).not.toMatch(/prod|legacy|dev/);
    const [second, , raw2] = await client.listRepositories({ parent: US, pageSize: 4, pageToken: token }, { autoPaginate: false });
    expect(second.map((r) => r.name!.split('/').pop())).toEqual(['maven', 'prod']);
    expect(raw2!.nextPageToken).toBe('');

    const edited = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect((await grpcError(client.listRepositories({ parent: US, pageToken: edited }, { autoPaginate: false }))).code).toBe(status.INVALID_ARGUMENT);
    const foreign = client.listDockerImages({ parent: `${US}/repositories/prod`, pageToken: token }, { autoPaginate: false });
    expect((await grpcError(foreign)).code).toBe(status.INVALID_ARGUMENT);
  });

  it('caps page size at 1000 and refuses a negative one', async () => {
    emu.estate.createRepository('asia', 'big');
    for (let i = 0; i < 1005; i++) emu.estate.pushImage('asia', 'big', `img-${i}`, { tags: ['v1'] });
    const parent = `projects/${PROJECT}/locations/asia/repositories/big`;
    const [page, , raw] = await client.listDockerImages({ parent, pageSize: 5000 }, { autoPaginate: false });
    expect(page).toHaveLength(1000);
    expect(raw!.nextPageToken).not.toBe('');
    const [rest, , raw2] = await client.listDockerImages({ parent, pageSize: 5000, pageToken: raw!.nextPageToken! }, { autoPaginate: false });
    expect(rest).toHaveLength(5);
    expect(raw2!.nextPageToken).toBe('');
    expect((await grpcError(client.listDockerImages({ parent, pageSize: -1 }, { autoPaginate: false }))).code).toBe(status.INVALID_ARGUMENT);
  });

  it('answers NOT_FOUND for a missing repository and PERMISSION_DENIED for another project or a denied repository', async () => {
    const missing = await grpcError(client.getRepository({ name: `${US}/repositories/nope` }));
    expect(missing.code).toBe(status.NOT_FOUND);
    const foreign = await grpcError(client.listRepositories({ parent: 'projects/someone-else/locations/us' }, { autoPaginate: false }));
    expect(foreign.code).toBe(status.PERMISSION_DENIED);
    expect(foreign.details).toContain("Permission 'artifactregistry.repositories.list' denied");

    emu.estate.deny('us', 'dev');
    const denied = await grpcError(client.listDockerImages({ parent: `${US}/repositories/dev` }, { autoPaginate: false }));
    expect(denied.code).toBe(status.PERMISSION_DENIED);
    emu.estate.deny('us', 'dev', false);
    await expect(client.listDockerImages({ parent: `${US}/repositories/dev` }, { autoPaginate: false })).resolves.toBeDefined();
  });

  it('toggles immutable tags through UpdateRepository, honouring update_mask', async () => {
    const name = `${US}/repositories/legacy`;
    const [updated] = await client.updateRepository({
      repository: { name, dockerConfig: { immutableTags: true }, description: 'ignored: not in the mask' },
      updateMask: { paths: ['docker_config.immutable_tags'] },
    });
    expect(updated.dockerConfig).toEqual({ immutableTags: true });
    expect(updated.description).toBe('');
    const [got] = await client.getRepository({ name });
    expect(got.dockerConfig).toEqual({ immutableTags: true });
    expect(emu.estate.repository('us', 'legacy').dockerConfig).toEqual({ immutableTags: true });

    const [off] = await client.updateRepository({ repository: { name, dockerConfig: { immutableTags: false } }, updateMask: { paths: ['docker_config'] } });
    expect(off.dockerConfig).toEqual({ immutableTags: false });

    const bad = await grpcError(client.updateRepository({ repository: { name, mode: 'VIRTUAL_REPOSITORY' }, updateMask: { paths: ['mode'] } }));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    const unknown = await grpcError(client.updateRepository({ repository: { name }, updateMask: { paths: ['dockerConfig.immutableTags'] } }));
    expect(unknown.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('docker images and tags', () => {
  it('names images with the image path URL-encoded and lists their tags', async () => {
    const digest = emu.estate.pushImage('us', 'dev', 'team/api', { tags: ['v1', 'latest'], mediaType: 'application/vnd.oci.image.index.v1+json' });
    const [images] = await client.listDockerImages({ parent: `${US}/repositories/dev` }, { autoPaginate: false });
    const image = images.find((i) => i.name!.includes('team%2Fapi'))!;
    expect(image.name).toBe(`${US}/repositories/dev/dockerImages/team%2Fapi@${digest}`);
    expect(image.uri).toBe(`us-docker.pkg.dev/${PROJECT}/dev/team/api@${digest}`);
    expect(image).toMatchObject({ tags: ['v1', 'latest'], mediaType: 'application/vnd.oci.image.index.v1+json' });
    expect(Number(image.uploadTime!.seconds)).toBeGreaterThan(0);

    const [tags] = await client.listTags({ parent: `${US}/repositories/dev/packages/team%2Fapi` }, { autoPaginate: false });
    expect(tags.map((t) => [t.name!.split('/').pop(), t.version!.split('/').pop()])).toEqual([
      ['latest', digest],
      ['v1', digest],
    ]);
    const [filtered] = await client.listTags({ parent: `${US}/repositories/dev/packages/team%2Fapi`, filter: 'name="*/tags/v*"' }, { autoPaginate: false });
    expect(filtered.map((t) => t.name!.split('/').pop())).toEqual(['v1']);
  });

  it('refuses to move, remove or delete tags in an immutable repository, but lets new tags be created', () => {
    const first = emu.estate.pushImage('us', 'prod', 'api', { tags: ['1.0'] });
    const moved = controlError(() => emu.estate.pushImage('us', 'prod', 'api', { tags: ['1.0'], content: 'rebuilt' }));
    expect(moved.code).toBe(status.FAILED_PRECONDITION);
    expect(moved.message).toContain('immutable tags');
    expect(controlError(() => emu.estate.untag('us', 'prod', 'api', '1.0')).code).toBe(status.FAILED_PRECONDITION);
    expect(controlError(() => emu.estate.deleteImage('us', 'prod', 'api', first)).code).toBe(status.FAILED_PRECONDITION);
    expect(emu.estate.tagsOf('us', 'prod', 'api').get('1.0')).toBe(first);

    // A new tag, and the same tag again on the same digest, are not changes.
    const second = emu.estate.pushImage('us', 'prod', 'api', { tags: ['1.1'], content: 'next' });
    emu.estate.tag('us', 'prod', 'api', '1.0', first);
    expect(Object.fromEntries(emu.estate.tagsOf('us', 'prod', 'api'))).toEqual({ '1.0': first, '1.1': second });
    // An untagged image may still be deleted.
    const untagged = emu.estate.pushImage('us', 'prod', 'api', { content: 'scratch' });
    emu.estate.deleteImage('us', 'prod', 'api', untagged);
  });

  it('moves tags in a mutable repository: the old image stays, untagged', async () => {
    const a = emu.estate.pushImage('us', 'dev', 'worker', { tags: ['stable'] });
    const b = emu.estate.pushImage('us', 'dev', 'worker', { tags: ['stable'], content: 'worker-2' });
    expect(b).not.toBe(a);
    const [images] = await client.listDockerImages({ parent: `${US}/repositories/dev` }, { autoPaginate: false });
    const worker = images.filter((i) => i.name!.includes('/dockerImages/worker@'));
    expect(Object.fromEntries(worker.map((i) => [i.name!.split('@')[1], i.tags]))).toEqual({ [a]: [], [b]: ['stable'] });
  });

  it('refuses writes to a virtual repository and lists what its upstreams resolve to, by priority', async () => {
    expect(controlError(() => emu.estate.pushImage('us', 'all', 'svc', { tags: ['x'] })).code).toBe(status.FAILED_PRECONDITION);
    const low = emu.estate.pushImage('us', 'dev', 'svc', { tags: ['1', 'edge'] });
    const high = emu.estate.pushImage('us', 'prod', 'svc', { tags: ['1'] });
    expect(Object.fromEntries(emu.estate.tagsOf('us', 'all', 'svc'))).toEqual({ '1': high, edge: low });
    const [images] = await client.listDockerImages({ parent: `${US}/repositories/all` }, { autoPaginate: false });
    const svc = images.filter((i) => i.name!.includes('/dockerImages/svc@'));
    expect(Object.fromEntries(svc.map((i) => [i.name!.split('@')[1], i.tags]))).toEqual({ [high]: ['1'], [low]: ['edge'] });
  });
});

describe('faults', () => {
  it('answers a method with a status the given number of times, then normally', async () => {
    emu.failNext('GetRepository', status.UNAVAILABLE, { times: 2 });
    const name = `${US}/repositories/prod`;
    expect((await grpcError(client.getRepository({ name }))).code).toBe(status.UNAVAILABLE);
    expect((await grpcError(client.getRepository({ name }))).code).toBe(status.UNAVAILABLE);
    await expect(client.getRepository({ name })).resolves.toBeDefined();
  });

  it('fails only later pages when asked, and delays past a deadline into DEADLINE_EXCEEDED', async () => {
    const parent = `projects/${PROJECT}/locations/asia/repositories/big`;
    emu.failNext('ListDockerImages', status.RESOURCE_EXHAUSTED, { resource: parent, pagesAfterFirst: true });
    const [, , raw] = await client.listDockerImages({ parent, pageSize: 1000 }, { autoPaginate: false });
    const exhausted = await grpcError(client.listDockerImages({ parent, pageSize: 1000, pageToken: raw!.nextPageToken! }, { autoPaginate: false }));
    expect(exhausted.code).toBe(status.RESOURCE_EXHAUSTED);

    emu.faults.add({ method: 'GetRepository', delayMs: 400, times: 1 });
    const slow = await grpcError(client.getRepository({ name: `${US}/repositories/prod` }, { timeout: 50, retry: null }));
    expect(slow.code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('enforces the per-region request quota', async () => {
    const small = await startGarEmulator({ project: PROJECT, requestsPerMinute: 2, repositories: [{ location: 'us', repository: 'r' }] });
    const c = new ArtifactRegistryClient({
      apiEndpoint: small.host,
      port: small.port,
      sslCreds: credentials.createInsecure(),
      authClient: new PassThroughClient() as unknown as ClientOptions['authClient'],
    });
    try {
      await c.getRepository({ name: `${US}/repositories/r` });
      await c.getRepository({ name: `${US}/repositories/r` });
      const over = await grpcError(c.getRepository({ name: `${US}/repositories/r` }));
      expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
      // Another region has its own quota.
      await expect(c.listRepositories({ parent: `projects/${PROJECT}/locations/europe-west1` }, { autoPaginate: false })).resolves.toBeDefined();
    } finally {
      await c.close();
      await small.close();
    }
  });
});
