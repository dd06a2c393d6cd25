import type { DemoScenario } from '../demo.js';
import { startGarEmulator } from './index.js';

/** An Artifact Registry project with one repository that has immutable tags and one that has not. */
export async function garDemoScenario(): Promise<DemoScenario> {
  const gar = await startGarEmulator({
    project: 'acme-prod',
    repositories: [
      { location: 'europe-west1', repository: 'docker-prod', immutableTags: true, images: [{ image: 'checkout', tags: ['1.0.0', '1.1.0'] }] },
      { location: 'us', repository: 'docker-dev', immutableTags: false, images: [{ image: 'checkout', tags: ['1.1.0', 'latest'] }] },
    ],
  });
  const attempt = (location: string, repository: string, tag: string): string => {
    try {
      gar.estate.pushImage(location, repository, 'checkout', { tags: [tag] });
      return `gar-prod: pushed a new image as ${location}/${repository}/checkout:${tag} (allowed)`;
    } catch (err) {
      return `gar-prod: pushing a new image as ${location}/${repository}/checkout:${tag} was refused by Artifact Registry (${(err as Error).message.split('\n')[0]})`;
    }
  };
  return {
    target: { id: 'gar-prod', kind: 'gar', project: 'acme-prod', locations: ['europe-west1', 'us'], endpoint: gar.endpoint, insecureSkipTlsVerify: false },
    historyOf: ['us/docker-dev/checkout:1.1.0'],
    async change() {
      return [attempt('europe-west1', 'docker-prod', '1.1.0'), attempt('us', 'docker-dev', '1.1.0')];
    },
    close: () => gar.close(),
  };
}
