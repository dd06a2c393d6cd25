/**
 * Registry fault matrix, Harbor REST API v2.0 (see fault-matrix.ts for what every row asserts).
 */
import type { TargetConfig } from '../../src/config/schema.js';
import { createHarborCollector } from '../../src/collectors/harbor/index.js';
import type { HarborTargetConfig } from '../../src/collectors/harbor/config.js';
import { startHarborEmulator, type HarborEmulator } from '../../src/emulators/harbor/index.js';
import { RETRY, describeFaultMatrix, SLOW_MS, TIMEOUT_MS, type FaultCase, type FaultHarness } from './fault-matrix.js';

interface HarborHarness extends FaultHarness {
  emu: HarborEmulator;
}

const names = { a: 'app/a', b: 'app/b', c: 'app/c' };
const bArtifacts = /^GET \/api\/v2\.0\/projects\/app\/repositories\/b\/artifacts\?/;
const RETRY_LOG = 'retrying Harbor request';
const ARTIFACT = `[{"digest":"sha256:${'ab'.repeat(32)}","tags":[{"name":"1.0.0"}]}]`;

let n = 0;
async function harness(seed = true): Promise<HarborHarness> {
  const emu = await startHarborEmulator();
  if (seed) {
    emu.createProject('app');
    for (const tag of ['v1', 'v2', 'latest']) emu.pushImage(names.a, tag);
    for (const tag of ['1.0.0', '1.0.1', 'latest']) emu.pushImage(names.b, tag);
    emu.pushImage(names.c, 'v1');
  }
  const target: HarborTargetConfig = { id: `harbor-fault-${++n}`, kind: 'harbor', url: emu.url, username: emu.username, password: emu.password, concurrency: 2, insecureSkipTlsVerify: false };
  return {
    kind: 'harbor',
    names,
    target: target as TargetConfig,
    emu,
    collector: (logger) => createHarborCollector(target, { logger }, { retryPolicy: RETRY, timeoutMs: TIMEOUT_MS }),
    moveC: () => void emu.moveTag(names.c, 'v1'),
    truth: () => {
      const out: Record<string, Record<string, string>> = {};
      for (const name of Object.values(names)) {
        const repo = emu.estate.repository(name);
        if (!repo) continue;
        const tags: Record<string, string> = {};
        for (const artifact of emu.estate.artifactsOf(repo.id)) for (const tag of emu.estate.tagsOf(artifact)) tags[tag.name] = artifact.digest;
        if (Object.keys(tags).length) out[name] = tags;
      }
      return out;
    },
    bCalls: () => emu.faults.requests.filter((r) => bArtifacts.test(r)).length,
    clearFaults: () => emu.faults.clear(),
    close: () => emu.close(),
  };
}

const tooMany = '{"errors":[{"code":"TOO_MANY_REQUESTS","message":"slow down"}]}';

const cases: FaultCase<HarborHarness>[] = [
  {
    fault: '429 with Retry-After, twice, then an answer',
    install: (h) => h.emu.faults.add({ match: bArtifacts, times: 2, status: 429, headers: { 'Retry-After': '1' }, body: tooMany }),
    outcome: 'recovers',
    calls: 3,
    retryAfterMs: 1000,
    retryLog: RETRY_LOG,
  },
  {
    fault: '429 with Retry-After on every attempt',
    install: (h) => h.emu.faults.add({ match: bArtifacts, status: 429, headers: { 'Retry-After': '1' }, body: tooMany }),
    outcome: 'repository-fails',
    cause: /^Harbor artifacts of repository "app\/b": GET http:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects\/app\/repositories\/b\/artifacts\?.* answered HTTP 429 TOO_MANY_REQUESTS "slow down" \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'a 500 then a 502, then an answer',
    install: (h) => h.emu.faults.add({ match: bArtifacts, times: 1, status: 500 }).add({ match: bArtifacts, times: 1, status: 502, headers: { 'Content-Type': 'text/html' }, body: '<html>502 Bad Gateway</html>' }),
    outcome: 'recovers',
    calls: 3,
  },
  {
    fault: '503 on every attempt',
    install: (h) => h.emu.faults.add({ match: bArtifacts, status: 503 }),
    outcome: 'repository-fails',
    cause: /answered HTTP 503 \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'connection reset on every attempt',
    install: (h) => h.emu.faults.add({ match: bArtifacts, reset: true }),
    outcome: 'repository-fails',
    cause: /^Harbor artifacts of repository "app\/b": ECONNRESET on http:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects\/app\/repositories\/b\/artifacts\?.* \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'an answer slower than the timeout',
    install: (h) => h.emu.faults.add({ match: bArtifacts, delayMs: SLOW_MS }),
    outcome: 'repository-fails',
    cause: /^Harbor artifacts of repository "app\/b": timed out: http:\/\/127\.0\.0\.1:\d+\/api\/v2\.0\/projects\/app\/repositories\/b\/artifacts\?.* \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'a body that trickles in and never ends',
    install: (h) => h.emu.faults.add({ match: bArtifacts, endlessBody: 20 }),
    outcome: 'repository-fails',
    cause: /^Harbor artifacts of repository "app\/b": timed out: .* \(gave up after 3 attempts\)$/,
    calls: 3,
  },
  {
    fault: 'truncated JSON',
    install: (h) => h.emu.faults.add({ match: bArtifacts, status: 200, headers: { 'X-Total-Count': '3' }, body: ARTIFACT.slice(0, 40) }),
    outcome: 'repository-fails',
    cause: /^Harbor artifacts of repository "app\/b": GET .* answered 200 with a body that is not JSON$/,
    calls: 1,
  },
  {
    fault: 'malformed JSON',
    install: (h) => h.emu.faults.add({ match: bArtifacts, malformed: true }),
    outcome: 'repository-fails',
    cause: /answered 200 with a body that is not JSON$/,
    calls: 1,
  },
  {
    fault: 'a field of the wrong type (digest as a number, tags as a string)',
    install: (h) => h.emu.faults.add({ match: bArtifacts, status: 200, headers: { 'X-Total-Count': '1' }, body: '[{"digest":42,"tags":"latest"}]' }),
    outcome: 'repository-fails',
    cause: /answered with an unexpected body \(0\.digest: .*; 0\.tags: /,
    calls: 1,
  },
  {
    fault: 'a Link back to the page just read (loop)',
    install: (h) =>
      h.emu.faults.add({
        match: bArtifacts,
        status: 200,
        body: ARTIFACT,
        headers: { 'X-Total-Count': '1', Link: '</api/v2.0/projects/app/repositories/b/artifacts?page=1&page_size=100&with_immutable_status=true&with_tag=true>; rel="next"' },
      }),
    outcome: 'repository-fails',
    cause: /more than 2 pages for X-Total-Count 1; stopping$/,
    calls: 2,
  },
  {
    fault: 'a listing that never ends (a next page, always)',
    install: (h) => {
      let page = 1;
      h.emu.faults.add({
        match: bArtifacts,
        respond: () => ({
          status: 200,
          body: ARTIFACT,
          headers: { 'X-Total-Count': '150', Link: `</api/v2.0/projects/app/repositories/b/artifacts?page=${++page}&page_size=100>; rel="next"` },
        }),
      });
    },
    outcome: 'repository-fails',
    cause: /more than 3 pages for X-Total-Count 150; stopping$/,
    calls: 3,
  },
  {
    fault: 'the repository deleted between the repository listing and its artifacts',
    install: (h) => {
      let done = false;
      h.emu.faults.add({
        match: (req) => {
          if (!done && bArtifacts.test(`${req.method} ${req.url}`)) {
            done = true;
            h.emu.deleteRepository(names.b);
          }
          return false;
        },
      });
    },
    outcome: 'vanishes',
    cause: /^Harbor artifacts of repository "app\/b": listed with 3 artifact\(s\), then read as empty \(deleted during the scan\?\)$/,
    calls: 1,
  },
  {
    fault: 'the project list answering 503 for good',
    install: (h) => h.emu.faults.add({ match: /^GET \/api\/v2\.0\/projects\?/, status: 503 }),
    outcome: 'target-fails',
    cause: /^Harbor projects list: GET .* answered HTTP 503 \(gave up after 3 attempts\)$/,
    calls: 0,
  },
  {
    fault: 'the project list suddenly empty',
    install: (h) => h.emu.faults.add({ match: /^GET \/api\/v2\.0\/projects\?/, status: 200, headers: { 'X-Total-Count': '0' }, body: '[]' }),
    outcome: 'target-fails',
    cause: /the registry listed no repositories at all, but 3 were present at the last scan/,
    calls: 0,
  },
];

describeFaultMatrix('Harbor registry faults through runScan', cases, harness);
