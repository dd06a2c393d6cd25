import type { DemoScenario } from '../demo.js';
import { startHarborEmulator } from './index.js';

/**
 * A Harbor project whose immutable-tag rule protects release tags (`v*`) but leaves release
 * candidates (`*-rc*`), `latest` and `dev-*` movable. One Harbor rule has one tag selector, so the
 * rule is written as "every tag excluding {latest,dev-*,*-rc*}".
 */
export async function harborDemoScenario(): Promise<DemoScenario> {
  const harbor = await startHarborEmulator();
  harbor.createProject('team-a');
  harbor.addRule('team-a', { repository: { pattern: '**' }, tag: { decoration: 'excludes', pattern: '{latest,dev-*,*-rc*}' } });
  for (const tag of ['v1.0.0', 'v1.1.0', 'v1.2.0-rc1', 'latest']) harbor.pushImage('team-a/checkout/api', tag);
  const attempt = (tag: string): string => {
    try {
      harbor.moveTag('team-a/checkout/api', tag);
      return `harbor: pushed a new image as team-a/checkout/api:${tag} (allowed)`;
    } catch (err) {
      return `harbor: pushing a new image as team-a/checkout/api:${tag} was refused by Harbor (412: ${(err as Error).message.split('\n')[0]})`;
    }
  };
  return {
    target: {
      id: 'harbor',
      kind: 'harbor',
      url: harbor.url,
      username: harbor.username,
      password: harbor.password,
      insecureSkipTlsVerify: false,
    },
    historyOf: ['team-a/checkout/api:v1.2.0-rc1'],
    async change() {
      return [attempt('v1.1.0'), attempt('v1.2.0-rc1'), attempt('latest')];
    },
    close: () => harbor.close(),
  };
}
