import type { DemoScenario } from '../demo.js';
import { startEcrEmulator } from './index.js';

/**
 * An ECR account with one repository in each tag-mutability mode, so the demo shows overwrites the
 * registry blocks, overwrites it allows, and the one it cannot stop: deleting a protected tag's
 * image and pushing another under the same tag.
 */
export async function ecrDemoScenario(): Promise<DemoScenario> {
  const ecr = await startEcrEmulator();
  // The emulator accepts any signature; these keep the SDK away from real credentials and
  // instance metadata. They only ever reach the loopback emulator.
  process.env.AWS_ACCESS_KEY_ID = 'AKIADEMODEMODEMO0000';
  process.env.AWS_SECRET_ACCESS_KEY = 'tagledger-demo-not-a-secret';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  const { estate } = ecr;
  estate.createRepository('payments/api', { imageTagMutability: 'IMMUTABLE' });
  estate.createRepository('payments/web', { imageTagMutability: 'MUTABLE' });
  estate.createRepository('payments/worker', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION', filters: ['latest', 'dev-*'] });
  estate.createRepository('payments/batch', { imageTagMutability: 'MUTABLE_WITH_EXCLUSION', filters: ['release-*'] });
  for (const tag of ['1.4.1', '1.4.2']) estate.pushImage('payments/api', { tag });
  for (const tag of ['latest', '2.0.0']) estate.pushImage('payments/web', { tag });
  for (const tag of ['latest', '3.1.0', 'dev-7']) estate.pushImage('payments/worker', { tag });
  for (const tag of ['release-1', 'nightly']) estate.pushImage('payments/batch', { tag });

  const attempt = (repo: string, tag: string): string => {
    try {
      estate.moveTag(repo, tag);
      return `prod-ecr: pushed a new image as ${repo}:${tag} (allowed)`;
    } catch (err) {
      return `prod-ecr: pushing a new image as ${repo}:${tag} was refused by ECR: ${(err as Error).name}`;
    }
  };
  return {
    target: { id: 'prod-ecr', kind: 'ecr', region: ecr.region, endpoint: ecr.url, insecureSkipTlsVerify: false },
    historyOf: ['payments/api:1.4.1', 'payments/web:2.0.0'],
    async change() {
      const lines = [
        attempt('payments/api', '1.4.2'),
        attempt('payments/web', '2.0.0'),
        attempt('payments/worker', 'latest'),
        attempt('payments/worker', '3.1.0'),
        attempt('payments/batch', 'nightly'),
        attempt('payments/batch', 'release-1'),
      ];
      // IMMUTABLE does not stop delete-then-push: the tag moves although the registry "protects" it.
      estate.deleteTag('payments/api', '1.4.1');
      estate.pushImage('payments/api', { tag: '1.4.1' });
      lines.push('prod-ecr: deleted payments/api:1.4.1 and pushed a different image under the same tag (ECR allows this even when IMMUTABLE)');
      return lines;
    },
    close: () => ecr.close(),
  };
}
