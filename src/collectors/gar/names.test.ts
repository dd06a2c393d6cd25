import { describe, expect, it } from 'vitest';
import { GarScope, parseDockerImageName, pullReference, tagledgerRepositoryName } from './names.js';

const parent = 'projects/acme-prod/locations/us/repositories/docker-prod';
const digest = `sha256:${'ab'.repeat(32)}`;

describe('docker image names', () => {
  it('decodes the URL-encoded image path and splits off the digest', () => {
    expect(parseDockerImageName(`${parent}/dockerImages/team%2Fpayments%2Fapi@${digest}`, parent)).toEqual({ image: 'team/payments/api', digest });
    expect(parseDockerImageName(`${parent}/dockerImages/nginx@${digest}`, parent)).toEqual({ image: 'nginx', digest });
  });

  it('refuses names of another repository, without a digest, or with a malformed one', () => {
    expect(parseDockerImageName(`${parent}-2/dockerImages/nginx@${digest}`, parent)).toBeNull();
    expect(parseDockerImageName(`${parent}/dockerImages/nginx`, parent)).toBeNull();
    expect(parseDockerImageName(`${parent}/dockerImages/nginx@latest`, parent)).toBeNull();
    expect(parseDockerImageName(`${parent}/dockerImages/%E0%A4%A@${digest}`, parent)).toBeNull();
  });

  it('names repositories <location>/<repository>/<image> and spells pull references as Docker does', () => {
    const ref = { project: 'acme-prod', location: 'europe-west1', repository: 'docker-prod' };
    expect(tagledgerRepositoryName(ref, 'team/api')).toBe('europe-west1/docker-prod/team/api');
    expect(pullReference(ref, 'team/api')).toBe('europe-west1-docker.pkg.dev/acme-prod/docker-prod/team/api');
    expect(pullReference({ ...ref, project: 'example.com:acme-prod' }, 'api')).toBe('europe-west1-docker.pkg.dev/example.com/acme-prod/docker-prod/api');
  });
});

describe('GarScope', () => {
  it('selects everything without globs', () => {
    const s = new GarScope(undefined);
    expect(s.locationMayMatch('us') && s.repositoryMayMatch('us', 'x')).toBe(true);
  });

  it('skips locations and repositories no glob can reach', () => {
    const s = new GarScope(['*/docker-prod/**', 'us/{web,api}/*']);
    expect(s.locationMayMatch('asia')).toBe(true);
    expect(s.repositoryMayMatch('asia', 'docker-prod')).toBe(true);
    expect(s.repositoryMayMatch('asia', 'docker-dev')).toBe(false);
    expect(s.repositoryMayMatch('us', 'web')).toBe(true);
    expect(s.repositoryMayMatch('us', 'mobile')).toBe(false);

    const eu = new GarScope(['europe-west1/prod/api']);
    expect(eu.locationMayMatch('us')).toBe(false);
    expect(eu.repositoryMayMatch('europe-west1', 'prod')).toBe(true);
    expect(eu.repositoryMayMatch('europe-west1', 'dev')).toBe(false);
  });

  it('lists rather than guess when a glob cannot be split or starts with a globstar', () => {
    expect(new GarScope(['**/api']).repositoryMayMatch('us', 'anything')).toBe(true);
    expect(new GarScope(['us/{a/b,c}/*']).repositoryMayMatch('us', 'zzz')).toBe(true);
    expect(new GarScope(['!us/secret/**']).repositoryMayMatch('us', 'secret')).toBe(true);
    // `<location>/<repository>` alone names no image.
    expect(new GarScope(['us/prod']).repositoryMayMatch('us', 'prod')).toBe(false);
  });
});
