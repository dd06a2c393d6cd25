import {
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  ListImagesCommand,
  PutImageTagMutabilityCommand,
} from '@aws-sdk/client-ecr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEcrEmulator, type EcrEmulator } from './index.js';

let emu: EcrEmulator;
let client: ECRClient;

beforeEach(async () => {
  emu = await startEcrEmulator();
  client = new ECRClient({
    region: 'us-east-1',
    endpoint: emu.url,
    credentials: { accessKeyId: 'AKIAEMULATORTEST', secretAccessKey: 'not-a-real-secret' },
    maxAttempts: 1,
  });
});

afterEach(async () => {
  client.destroy();
  await emu.close();
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

describe('ECR emulator: immutability enforcement (control API)', () => {
  it('rejects moving a tag of an IMMUTABLE repository and allows it after the image is deleted', () => {
    emu.estate.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE' });
    const first = emu.estate.pushImage('payments/api', { tag: 'v1.0.0' });
    expect(() => emu.estate.pushImage('payments/api', { tag: 'v1.0.0' })).toThrow(
      expect.objectContaining({ name: 'ImageTagAlreadyExistsException' }),
    );
    expect(emu.estate.digestOfTag('payments/api', 'v1.0.0')).toBe(first);

    // ECR's immutability does not stop deleting the image and pushing another under the same tag.
    emu.estate.deleteImage('payments/api', first);
    const second = emu.estate.pushImage('payments/api', { tag: 'v1.0.0' });
    expect(second).not.toBe(first);
    expect(emu.estate.digestOfTag('payments/api', 'v1.0.0')).toBe(second);
  });

  it('IMMUTABLE_WITH_EXCLUSION: an excluded tag moves, any other is refused', () => {
    emu.estate.createRepository('web', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['dev-*', 'latest'] });
    const a = emu.estate.pushImage('web', { tag: 'latest' });
    emu.estate.tagImage('web', a, 'dev-42');
    emu.estate.tagImage('web', a, 'v2');
    const b = emu.estate.moveTag('web', 'latest');
    emu.estate.moveTag('web', 'dev-42', { digest: b });
    expect(emu.estate.digestOfTag('web', 'latest')).toBe(b);
    expect(emu.estate.digestOfTag('web', 'dev-42')).toBe(b);
    expect(() => emu.estate.moveTag('web', 'v2', { digest: b })).toThrow(expect.objectContaining({ name: 'ImageTagAlreadyExistsException' }));
    // Case matters: "Latest" is not excluded by "latest".
    emu.estate.tagImage('web', a, 'Latest');
    expect(() => emu.estate.moveTag('web', 'Latest', { digest: b })).toThrow(expect.objectContaining({ name: 'ImageTagAlreadyExistsException' }));
  });

  it('MUTABLE_WITH_EXCLUSION: only tags matching a filter are protected', () => {
    emu.estate.createRepository('lib', { imageTagMutability: 'MUTABLE_WITH_EXCLUSION', filters: ['v*.*.*'] });
    const a = emu.estate.pushImage('lib', { tag: 'v1.2.3' });
    emu.estate.tagImage('lib', a, 'main');
    const b = emu.estate.moveTag('lib', 'main');
    expect(emu.estate.digestOfTag('lib', 'main')).toBe(b);
    expect(() => emu.estate.moveTag('lib', 'v1.2.3', { digest: b })).toThrow(expect.objectContaining({ name: 'ImageTagAlreadyExistsException' }));
    // The former image of an overwritten tag stays, untagged.
    expect(emu.estate.repository('lib').images.get(a)!.tags).toEqual(['v1.2.3']);
  });

  it('MUTABLE lets every tag move; re-pushing the same image under the same tag changes nothing and is refused', () => {
    emu.estate.createRepository('tools');
    const a = emu.estate.pushImage('tools', { tag: 'v1' });
    const b = emu.estate.moveTag('tools', 'v1');
    expect(emu.estate.digestOfTag('tools', 'v1')).toBe(b);
    expect(() => emu.estate.tagImage('tools', b, 'v1')).toThrow(expect.objectContaining({ name: 'ImageAlreadyExistsException' }));
    expect(emu.estate.repository('tools').images.get(a)!.tags).toEqual([]);
  });

  it('deleting the last tag of an image deletes the image', () => {
    emu.estate.createRepository('tools');
    const a = emu.estate.pushImage('tools', { tag: 'one' });
    emu.estate.tagImage('tools', a, 'two');
    emu.estate.deleteTag('tools', 'one');
    expect(emu.estate.repository('tools').images.has(a)).toBe(true);
    emu.estate.deleteTag('tools', 'two');
    expect(emu.estate.repository('tools').images.has(a)).toBe(false);
  });
});

describe('ECR emulator: wire protocol through the real ECRClient', () => {
  it('PutImageTagMutability stores filters and the SDK reads them back through DescribeRepositories', async () => {
    emu.estate.createRepository('svc');
    const put = await client.send(
      new PutImageTagMutabilityCommand({
        repositoryName: 'svc',
        imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [
          { filterType: 'WILDCARD', filter: 'dev-*' },
          { filterType: 'WILDCARD', filter: 'latest' },
        ],
      }),
    );
    expect(put.imageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION');
    const out = await client.send(new DescribeRepositoriesCommand({}));
    expect(out.repositories).toHaveLength(1);
    const repo = out.repositories![0];
    expect(repo.imageTagMutability).toBe('IMMUTABLE_WITH_EXCLUSION');
    expect(repo.imageTagMutabilityExclusionFilters).toEqual([
      { filterType: 'WILDCARD', filter: 'dev-*' },
      { filterType: 'WILDCARD', filter: 'latest' },
    ]);
    expect(repo.createdAt).toBeInstanceOf(Date);
    expect(repo.repositoryUri).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/svc');
  });

  it.each([
    ['no filters for a *_WITH_EXCLUSION mode', 'MUTABLE_WITH_EXCLUSION', undefined],
    ['an empty filter list', 'IMMUTABLE_WITH_EXCLUSION', []],
    ['six filters', 'IMMUTABLE_WITH_EXCLUSION', ['a', 'b', 'c', 'd', 'e', 'f'].map((filter) => ({ filterType: 'WILDCARD', filter }))],
    ['a filter type other than WILDCARD', 'IMMUTABLE_WITH_EXCLUSION', [{ filterType: 'REGEX', filter: 'dev-.*' }]],
    ['a character outside [0-9a-zA-Z._*-]', 'IMMUTABLE_WITH_EXCLUSION', [{ filterType: 'WILDCARD', filter: 'dev/*' }]],
    ['a filter longer than 128 characters', 'IMMUTABLE_WITH_EXCLUSION', [{ filterType: 'WILDCARD', filter: 'a'.repeat(129) }]],
    ['filters with a plain mode', 'IMMUTABLE', [{ filterType: 'WILDCARD', filter: 'dev-*' }]],
    ['an unknown mode', 'SOMETIMES', undefined],
  ])('PutImageTagMutability rejects %s with InvalidParameterException', async (_label, mode, filters) => {
    emu.estate.createRepository('svc', { imageTagMutability: 'IMMUTABLE' });
    const err = await errorOf(
      client.send(
        new PutImageTagMutabilityCommand({
          repositoryName: 'svc',
          imageTagMutability: mode as never,
          imageTagMutabilityExclusionFilters: filters as never,
        }),
      ),
    );
    expect(err.name).toBe('InvalidParameterException');
    expect(err.status).toBe(400);
    // Nothing changed.
    expect(emu.estate.repository('svc').mutability).toBe('IMMUTABLE');
  });

  it('accepts five filters of 128 characters', async () => {
    emu.estate.createRepository('svc');
    const filters = ['a', 'b', 'c', 'd', '*'].map((c) => ({ filterType: 'WILDCARD' as const, filter: c.padEnd(128, 'x') }));
    await client.send(new PutImageTagMutabilityCommand({ repositoryName: 'svc', imageTagMutability: 'MUTABLE_WITH_EXCLUSION', imageTagMutabilityExclusionFilters: filters }));
    expect(emu.estate.repository('svc').filters).toHaveLength(5);
  });

  it.each([0, 1001])('maxResults %i is InvalidParameterException', async (maxResults) => {
    emu.estate.createRepository('svc');
    expect((await errorOf(client.send(new DescribeImagesCommand({ repositoryName: 'svc', maxResults })))).name).toBe('InvalidParameterException');
    expect((await errorOf(client.send(new DescribeRepositoriesCommand({ maxResults })))).name).toBe('InvalidParameterException');
    expect((await errorOf(client.send(new ListImagesCommand({ repositoryName: 'svc', maxResults })))).name).toBe('InvalidParameterException');
  });

  it('pages 100 images by default and 1000 at most, with opaque tokens bound to their repository', async () => {
    emu.estate.createRepository('big');
    emu.estate.createRepository('other');
    emu.estate.addImages('big', 1500);
    const first = await client.send(new DescribeImagesCommand({ repositoryName: 'big' }));
    expect(first.imageDetails).toHaveLength(100);
    expect(first.nextToken).toEqual(expect.any(String));
    const big = await client.send(new DescribeImagesCommand({ repositoryName: 'big', maxResults: 1000 }));
    expect(big.imageDetails).toHaveLength(1000);
    const rest = await client.send(new DescribeImagesCommand({ repositoryName: 'big', maxResults: 1000, nextToken: big.nextToken }));
    expect(rest.imageDetails).toHaveLength(500);
    expect(rest.nextToken).toBeUndefined();
    const tags = new Set([...big.imageDetails!, ...rest.imageDetails!].flatMap((d) => d.imageTags ?? []));
    expect(tags.size).toBe(1500);
    expect((await errorOf(client.send(new DescribeImagesCommand({ repositoryName: 'other', nextToken: big.nextToken })))).name).toBe('InvalidParameterException');
    expect((await errorOf(client.send(new DescribeImagesCommand({ repositoryName: 'big', nextToken: 'forged' })))).name).toBe('InvalidParameterException');
  });

  it('DescribeImages returns only ACTIVE images unless imageStatus ANY is asked for, and filters by tag status', async () => {
    emu.estate.createRepository('svc');
    const active = emu.estate.pushImage('svc', { tag: 'active' });
    const archived = emu.estate.pushImage('svc', { tag: 'old' });
    emu.estate.pushImage('svc', {}); // untagged
    emu.estate.archiveImage('svc', archived);

    const plain = await client.send(new DescribeImagesCommand({ repositoryName: 'svc' }));
    expect(plain.imageDetails!.map((d) => d.imageDigest)).not.toContain(archived);
    expect(plain.imageDetails).toHaveLength(2);

    const all = await client.send(new DescribeImagesCommand({ repositoryName: 'svc', filter: { tagStatus: 'TAGGED', imageStatus: 'ANY' } }));
    expect(all.imageDetails!.map((d) => [d.imageDigest, d.imageStatus, d.imageTags])).toEqual([
      [active, 'ACTIVE', ['active']],
      [archived, 'ARCHIVED', ['old']],
    ]);
    const detail = all.imageDetails![0];
    expect(detail.imagePushedAt).toBeInstanceOf(Date);
    expect(detail.imageManifestMediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(detail.imageSizeInBytes).toEqual(expect.any(Number));
    expect(all.imageDetails![1].lastArchivedAt).toBeInstanceOf(Date);
  });

  it('ListImages lists one entry per tag and one per untagged image', async () => {
    emu.estate.createRepository('svc');
    const a = emu.estate.pushImage('svc', { tag: 'one' });
    emu.estate.tagImage('svc', a, 'two');
    const u = emu.estate.pushImage('svc', {});
    const out = await client.send(new ListImagesCommand({ repositoryName: 'svc' }));
    expect(out.imageIds).toEqual([
      { imageDigest: a, imageTag: 'one' },
      { imageDigest: a, imageTag: 'two' },
      { imageDigest: u },
    ]);
    const tagged = await client.send(new ListImagesCommand({ repositoryName: 'svc', filter: { tagStatus: 'TAGGED' } }));
    expect(tagged.imageIds).toHaveLength(2);
  });

  it('answers a missing repository, a denied one and an injected throttle with ECR error names', async () => {
    emu.estate.createRepository('secret-team');
    emu.estate.denyRepository('secret-team');
    expect(await errorOf(client.send(new DescribeImagesCommand({ repositoryName: 'nope' })))).toMatchObject({ name: 'RepositoryNotFoundException', status: 400 });
    expect(await errorOf(client.send(new DescribeImagesCommand({ repositoryName: 'secret-team' })))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    emu.failOperation('DescribeRepositories', { type: 'ThrottlingException' });
    expect(await errorOf(client.send(new DescribeRepositoriesCommand({})))).toMatchObject({ name: 'ThrottlingException', status: 400, message: 'Rate exceeded' });
    emu.failOperation('DescribeRepositories', { type: 'ServerException' });
    expect(await errorOf(client.send(new DescribeRepositoriesCommand({})))).toMatchObject({ name: 'ServerException', status: 500 });
  });

  it('speaks AWS JSON 1.1 on the wire and requires a SigV4 Authorization header', async () => {
    emu.estate.createRepository('svc', { createdAt: new Date(1_700_000_000_500) });
    const post = (headers: Record<string, string>, body = '{}') => fetch(emu.url, { method: 'POST', headers, body });
    const json11 = { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeRepositories' };

    const unsigned = await post(json11);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });

    const auth = { Authorization: 'AWS4-HMAC-SHA256 Credential=AKIAWIRE/20250101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00' };
    const ok = await post({ ...json11, ...auth });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    const body = (await ok.json()) as { repositories: Array<{ createdAt: unknown }> };
    expect(body.repositories[0].createdAt).toBe(1_700_000_000.5);

    const missing = await post({ ...json11, ...auth, 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DescribeImages' }, '{"repositoryName":"nope"}');
    expect(missing.status).toBe(400);
    expect(missing.headers.get('x-amzn-errortype')).toBe('RepositoryNotFoundException');
    expect(await missing.json()).toEqual({ __type: 'RepositoryNotFoundException', message: expect.stringContaining("'nope'") });

    const unknown = await post({ ...json11, ...auth, 'X-Amz-Target': 'AmazonEC2ContainerRegistry_V20150921.DeleteRepository' });
    expect(((await unknown.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    expect(emu.calls.at(-1)!.accessKeyId).toBe('AKIAWIRE');
  });
});
