import type { DemoScenario } from '../demo.js';
import { startOciEmulator } from './index.js';

/** A plain OCI registry: it reports no immutability, so every tag can be overwritten. */
export async function ociDemoScenario(): Promise<DemoScenario> {
  const registry = await startOciEmulator();
  const estate: Record<string, string[]> = {
    'shop/api': ['latest', '1.4.1', '1.4.2', '1.5.0'],
    'shop/web': ['latest', '2.0.0', '2.0.1'],
    'tools/builder': ['latest', 'stable'],
  };
  for (const [repo, tags] of Object.entries(estate)) for (const tag of tags) registry.pushImage(repo, tag);
  return {
    target: { id: 'local-oci', kind: 'oci', url: registry.url, insecureSkipTlsVerify: false },
    historyOf: ['shop/api:latest', 'shop/api:1.4.2'],
    async change() {
      registry.moveTag('shop/api', 'latest');
      registry.moveTag('shop/api', '1.4.2');
      registry.deleteTag('shop/web', '2.0.0');
      return [
        'local-oci: pushed a new image as shop/api:latest (allowed: plain registries report no immutability)',
        'local-oci: overwrote shop/api:1.4.2 with a different image (allowed!)',
        'local-oci: deleted shop/web:2.0.0',
      ];
    },
    close: () => registry.close(),
  };
}
