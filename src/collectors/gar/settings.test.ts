import { describe, expect, it } from 'vitest';
import { protectionFor } from '../../audit/protection.js';
import { RepositorySchema } from './schema.js';
import { protectionOf, repositoryEvidence } from './settings.js';

const repo = (extra: Record<string, unknown>) => RepositorySchema.parse({ name: 'projects/p/locations/us/repositories/r', format: 'DOCKER', mode: 'STANDARD_REPOSITORY', ...extra });

describe('GAR repository settings', () => {
  it('treats a repository without dockerConfig as mutable', () => {
    const evidence = repositoryEvidence(repo({}));
    expect(evidence).toMatchObject({ immutableTags: false, dockerConfigPresent: false });
    expect(protectionFor(protectionOf(evidence), 'v1').protected).toBe(false);
  });

  it('protects every tag of an immutable standard or remote repository', () => {
    for (const mode of ['STANDARD_REPOSITORY', 'REMOTE_REPOSITORY']) {
      const p = protectionOf(repositoryEvidence(repo({ mode, dockerConfig: { immutableTags: true } })));
      expect(p).toEqual({ kind: 'gar', immutableTags: true, mode });
      expect(protectionFor(p, 'latest').protected).toBe(true);
    }
  });

  it('never protects tags seen through a virtual repository, and keeps what it reported', () => {
    const evidence = repositoryEvidence(
      repo({
        mode: 'VIRTUAL_REPOSITORY',
        dockerConfig: { immutableTags: true },
        virtualRepositoryConfig: { upstreamPolicies: [{ id: 'low', repository: 'projects/p/locations/us/repositories/a', priority: 1 }, { id: 'high', repository: 'projects/p/locations/us/repositories/b', priority: 9 }] },
      }),
    );
    expect(evidence.immutableTags).toBe(true);
    expect(evidence.virtualUpstreams!.map((u) => u.id)).toEqual(['high', 'low']);
    expect(protectionOf(evidence)).toEqual({ kind: 'gar', immutableTags: false, mode: 'VIRTUAL_REPOSITORY' });
  });

  it('surfaces cleanup policies that can delete tagged images, unless in dry run', () => {
    const policies = {
      'old-tagged': { id: 'old-tagged', action: 'DELETE', condition: { tagState: 'TAGGED', olderThan: { seconds: '2592000', nanos: 0 } } },
      untagged: { id: 'untagged', action: 'DELETE', condition: { tagState: 'UNTAGGED' } },
      keep: { id: 'keep', action: 'KEEP', mostRecentVersions: { keepCount: 5 } },
    };
    const evidence = repositoryEvidence(repo({ cleanupPolicies: policies }));
    expect(evidence.cleanupDeletesTaggedImages).toEqual(['old-tagged']);
    expect(evidence.cleanupPolicies.find((p) => p.id === 'old-tagged')).toEqual({ id: 'old-tagged', action: 'DELETE', tagState: 'TAGGED', olderThanSeconds: 2592000 });
    expect(evidence.cleanupPolicies.find((p) => p.id === 'keep')).toEqual({ id: 'keep', action: 'KEEP', keepCount: 5 });
    expect(repositoryEvidence(repo({ cleanupPolicies: policies, cleanupPolicyDryRun: true })).cleanupDeletesTaggedImages).toEqual([]);
  });

  it('keeps a remote upstream without credentials and nothing secret about it', () => {
    const evidence = repositoryEvidence(
      repo({
        mode: 'REMOTE_REPOSITORY',
        remoteRepositoryConfig: {
          dockerRepository: { customRepository: { uri: 'https://robot:hunter2@registry.example.com' } },
          upstreamCredentials: { usernamePasswordCredentials: { username: 'robot', passwordSecretVersion: 'projects/p/secrets/s/versions/1' } },
        },
      }),
    );
    expect(evidence.remoteUpstream).toBe('https://registry.example.com/');
    expect(JSON.stringify(evidence)).not.toMatch(/hunter2|robot|secrets/);
  });
});
