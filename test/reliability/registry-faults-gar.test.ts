/**
 * Registry fault matrix, Google Artifact Registry over gRPC (see fault-matrix.ts for what every row
 * asserts). gRPC has no HTTP statuses or JSON bodies: 429 is RESOURCE_EXHAUSTED, 502/503 are
 * UNAVAILABLE, 500 is INTERNAL (not retried), a late answer is DEADLINE_EXCEEDED, and a malformed
 * or wrongly typed answer is a message whose values break their documented form. Connection resets go
 * through a TCP relay in front of the emulator.
 */
import { status } from '@grpc/grpc-js';
import type { TargetConfig } from '../../src/config/schema.js';
import { createGarCollector } from '../../src/collectors/gar/index.js';
import type { GarTargetConfig } from '../../src/collectors/gar/config.js';
import { startGarEmulator, type GarEmulator } from '../../src/emulators/gar/index.js';
import { RETRY, describeFaultMatrix, SLOW_MS, TIMEOUT_MS, type FaultCase, type FaultHarness } from './fault-matrix.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

interface GarHarness extends FaultHarness {
  emu: GarEmulator;
  proxy: TcpProxy;
}

const PROJECT = 'acme-prod';
const names = { a: 'us/ra/app', b: 'us/rb/app', c: 'us/rc/app' };
const RB = `projects/${PROJECT}/locations/us/repositories/rb`;
/** Before any image of it was read, errors name the GAR repository itself. */
const rbItself = () => 'us/rb';

let n = 0;
async function harness(seed = true): Promise<GarHarness> {
  const emu = await startGarEmulator({ project: PROJECT });
  const e = emu.estate;
  if (seed) {
    for (const id of ['ra', 'rb', 'rc']) e.createRepository('us', id);
    // One digest per tag: b's image has three versions, two pages of two.
    for (const tag of ['v1', 'v2', 'latest']) e.pushImage('us', 'ra', 'app', { tags: [tag] });
    for (const tag of ['1.0.0', '1.0.1', 'latest']) e.pushImage('us', 'rb', 'app', { tags: [tag] });
    e.pushImage('us', 'rc', 'app', { tags: ['v1'] });
  }
  const proxy = await startTcpProxy(emu.port);
  const target: GarTargetConfig = {
    id: `gar-fault-${++n}`,
    kind: 'gar',
    project: PROJECT,
    locations: ['us'],
    endpoint: `http://127.0.0.1:${proxy.port}`,
    concurrency: 1,
    insecureSkipTlsVerify: false,
  };
  return {
    kind: 'gar',
    names,
    target: target as TargetConfig,
    emu,
    proxy,
    collector: (logger) => createGarCollector(target, { logger }, { retryPolicy: RETRY, timeoutMs: TIMEOUT_MS, pageSize: 2 }),
    moveC: () => void e.pushImage('us', 'rc', 'app', { tags: ['v1'] }),
    truth: () => {
      const out: Record<string, Record<string, string>> = {};
      for (const id of ['ra', 'rb', 'rc']) {
        if (!e.find(`projects/${PROJECT}/locations/us/repositories/${id}`)) continue;
        const tags = Object.fromEntries(e.tagsOf('us', id, 'app'));
        if (Object.keys(tags).length) out[`us/${id}/app`] = tags;
      }
      return out;
    },
    bCalls: () => emu.callCount('ListDockerImages', RB),
    clearFaults: () => emu.faults.clear(),
    close: async () => {
      await proxy.close();
      await emu.close();
    },
  };
}

const cases: FaultCase<GarHarness>[] = [
  {
    fault: 'RESOURCE_EXHAUSTED (429) twice, then an answer',
    install: (h) => h.emu.failNext('ListDockerImages', status.RESOURCE_EXHAUSTED, { resource: RB, times: 2 }),
    outcome: 'recovers',
    calls: 4,
  },
  {
    fault: 'RESOURCE_EXHAUSTED (429) on every attempt',
    install: (h) => h.emu.failNext('ListDockerImages', status.RESOURCE_EXHAUSTED, { resource: RB, times: Infinity }),
    outcome: 'repository-fails',
    repository: rbItself,
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: RESOURCE_EXHAUSTED: Quota exceeded .* \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'UNAVAILABLE (502/503) twice on the second page, then an answer',
    install: (h) => h.emu.failNext('ListDockerImages', status.UNAVAILABLE, { resource: RB, pagesAfterFirst: true, times: 2 }),
    outcome: 'recovers',
    calls: 4,
  },
  {
    fault: 'UNAVAILABLE (502/503) on every attempt of the second page',
    install: (h) => h.emu.failNext('ListDockerImages', status.UNAVAILABLE, { resource: RB, pagesAfterFirst: true, times: Infinity }),
    outcome: 'repository-fails',
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb \(page 2\): UNAVAILABLE: The service is currently unavailable\. \(gave up after 3 attempts\)$/,
    calls: 4,
  },
  {
    fault: 'INTERNAL (500): not retried',
    install: (h) => h.emu.failNext('ListDockerImages', status.INTERNAL, { resource: RB, times: Infinity }),
    outcome: 'repository-fails',
    repository: rbItself,
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: INTERNAL: Internal error encountered\.$/,
    calls: 1,
  },
  {
    fault: 'connection reset on every attempt',
    install: (h) =>
      h.emu.faults.add({
        method: 'ListDockerImages',
        resource: RB,
        delayMs: 300,
        match: () => {
          setTimeout(() => h.proxy.resetAll(), 50);
          return true;
        },
      }),
    outcome: 'repository-fails',
    repository: rbItself,
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: UNAVAILABLE: .*\(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'an answer slower than the deadline',
    install: (h) => h.emu.faults.add({ method: 'ListDockerImages', resource: RB, delayMs: SLOW_MS }),
    outcome: 'repository-fails',
    repository: rbItself,
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: DEADLINE_EXCEEDED: .*\(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'a malformed answer (an image name without a digest)',
    install: (h) =>
      h.emu.faults.add({
        method: 'ListDockerImages',
        resource: RB,
        pagesAfterFirst: true,
        transform: (res) => ({ ...res, dockerImages: (res.dockerImages as Array<Record<string, unknown>>).map((d) => ({ ...d, name: `${RB}/dockerImages/app` })) }),
      }),
    outcome: 'repository-fails',
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: docker image name ".*\/dockerImages\/app" is not <repository>\/dockerImages\/<image>@<digest>$/,
    calls: 2,
  },
  {
    fault: 'a value of the wrong form (a tag that is not a tag)',
    install: (h) =>
      h.emu.faults.add({
        method: 'ListDockerImages',
        resource: RB,
        pagesAfterFirst: true,
        transform: (res) => ({ ...res, dockerImages: (res.dockerImages as Array<Record<string, unknown>>).map((d) => ({ ...d, tags: ['not a tag!'] })) }),
      }),
    outcome: 'repository-fails',
    cause: /^registry returned an invalid tag name "not a tag!"$/,
    calls: 2,
  },
  {
    fault: 'a page token that repeats (loop)',
    install: (h) => h.emu.faults.add({ method: 'ListDockerImages', resource: RB, pagesAfterFirst: true, transform: (res, call) => ({ ...res, nextPageToken: call.pageToken }) }),
    outcome: 'repository-fails',
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: the service returned a page token it had already returned; listing abandoned$/,
    calls: 2,
  },
  {
    fault: 'the repository deleted between ListRepositories and ListDockerImages',
    install: (h) => h.emu.beforeAnswer('ListDockerImages', () => h.emu.estate.deleteRepository('us', 'rb')),
    outcome: 'vanishes',
    repository: rbItself,
    cause: /^GAR ListDockerImages for projects\/acme-prod\/locations\/us\/repositories\/rb: NOT_FOUND: /,
    calls: 1,
  },
  {
    fault: 'ListRepositories answering UNAVAILABLE for good',
    install: (h) => h.emu.failNext('ListRepositories', status.UNAVAILABLE, { times: Infinity }),
    outcome: 'target-fails',
    cause: /^GAR ListRepositories for projects\/acme-prod\/locations\/us: UNAVAILABLE: .*\(gave up after 3 attempts\)$/,
    calls: 0,
  },
  {
    fault: 'the repository listing suddenly empty',
    install: (h) => h.emu.faults.add({ method: 'ListRepositories', transform: () => ({ repositories: [], nextPageToken: '' }) }),
    outcome: 'target-fails',
    cause: /the registry listed no repositories at all, but 3 were present at the last scan/,
    calls: 0,
  },
];

describeFaultMatrix('GAR registry faults through runScan', cases, harness);
