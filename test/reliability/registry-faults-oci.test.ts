/**
 * Registry fault matrix, OCI distribution API (see fault-matrix.ts for what every row asserts).
 */
import type { IncomingMessage } from 'node:http';
import type { TargetConfig } from '../../src/config/schema.js';
import { createOciCollector } from '../../src/collectors/oci/index.js';
import type { OciTargetConfig } from '../../src/collectors/oci/config.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { RETRY, describeFaultMatrix, SLOW_MS, TIMEOUT_MS, type FaultCase, type FaultHarness } from './fault-matrix.js';

interface OciHarness extends FaultHarness {
  emu: OciEmulator;
}

const names = { a: 'app/a', b: 'app/b', c: 'app/c' };
const bTags = /^GET \/v2\/app\/b\/tags\/list/;
const bFirstPage = /^GET \/v2\/app\/b\/tags\/list\?n=2$/;
const bSecondPage = /^GET \/v2\/app\/b\/tags\/list\?n=2&last=/;
const RETRY_LOG = 'registry request failed; retrying';

let n = 0;
async function harness(seed = true): Promise<OciHarness> {
  const emu = await startOciEmulator();
  if (seed) {
    for (const tag of ['v1', 'v2', 'latest']) emu.pushImage(names.a, tag);
    for (const tag of ['1.0.0', '1.0.1', 'latest']) emu.pushImage(names.b, tag);
    emu.pushImage(names.c, 'v1');
  }
  const target: OciTargetConfig = { id: `oci-fault-${++n}`, kind: 'oci', url: emu.url, concurrency: 2, insecureSkipTlsVerify: false };
  return {
    kind: 'oci',
    names,
    target: target as TargetConfig,
    emu,
    // pageSize 2: b's three tags take two tags/list pages, so faults can hit the second one.
    collector: (logger) => createOciCollector(target, { logger }, { retryPolicy: RETRY, timeoutMs: TIMEOUT_MS, pageSize: 2 }),
    moveC: () => void emu.moveTag(names.c, 'v1'),
    truth: () =>
      Object.fromEntries(
        emu.estate
          .repositories()
          .map((r) => [r, Object.fromEntries(emu.estate.tagDigests(r))] as const)
          .filter(([, tags]) => Object.keys(tags).length > 0),
      ),
    bCalls: () => emu.faults.requests.filter((r) => bTags.test(r)).length,
    clearFaults: () => emu.faults.clear(),
    close: () => emu.close(),
  };
}

/** Runs `effect` the first time a request matches, then lets the emulator answer as usual. */
function onFirst(re: RegExp, effect: () => void): (req: IncomingMessage) => boolean {
  let done = false;
  return (req) => {
    if (!done && re.test(`${req.method} ${req.url}`)) {
      done = true;
      effect();
    }
    return false;
  };
}

const tooMany = '{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}';

const cases: FaultCase<OciHarness>[] = [
  {
    fault: '429 with Retry-After, twice, then an answer',
    install: (h) => h.emu.faults.add({ match: bFirstPage, times: 2, status: 429, headers: { 'Retry-After': '1' }, body: tooMany }),
    outcome: 'recovers',
    calls: 4,
    retryAfterMs: 1000,
    retryLog: RETRY_LOG,
  },
  {
    fault: '429 with Retry-After on every attempt',
    install: (h) => h.emu.faults.add({ match: bFirstPage, status: 429, headers: { 'Retry-After': '1' }, body: tooMany }),
    outcome: 'repository-fails',
    cause: /tags\/list\?n=2: HTTP 429 \(TOOMANYREQUESTS: slow down\) \(gave up after 3 attempts\)/,
    calls: 3,
  },
  {
    fault: 'a 500, 502, 503 burst across both pages, shorter than the retries',
    install: (h) =>
      h.emu.faults
        .add({ match: bFirstPage, times: 1, status: 500 })
        .add({ match: bSecondPage, times: 1, status: 502 })
        .add({ match: bSecondPage, times: 1, status: 503 }),
    outcome: 'recovers',
    calls: 5,
  },
  {
    fault: '503 on every attempt',
    install: (h) => h.emu.faults.add({ match: bFirstPage, status: 503 }),
    outcome: 'repository-fails',
    cause: /app\/b\/tags\/list\?n=2: HTTP 503 \(gave up after 3 attempts\)/,
    calls: 3,
  },
  {
    fault: 'connection reset on the second tags/list page, every time',
    install: (h) => h.emu.faults.add({ match: bSecondPage, reset: true }),
    outcome: 'repository-fails',
    cause: /ECONNRESET on http:\/\/127\.0\.0\.1:\d+\/v2\/app\/b\/tags\/list\?n=2&last=1\.0\.1 \(gave up after 3 attempts\)/,
    calls: 4,
  },
  {
    fault: 'an answer slower than the timeout',
    install: (h) => h.emu.faults.add({ match: bTags, delayMs: SLOW_MS }),
    outcome: 'repository-fails',
    cause: /timed out: http:\/\/127\.0\.0\.1:\d+\/v2\/app\/b\/tags\/list\?n=2 \(gave up after 3 attempts\)/,
    calls: 3,
  },
  {
    fault: 'a body that trickles in and never ends',
    install: (h) => h.emu.faults.add({ match: bTags, endlessBody: 20 }),
    outcome: 'repository-fails',
    cause: /timed out: http:\/\/127\.0\.0\.1:\d+\/v2\/app\/b\/tags\/list\?n=2 \(gave up after 3 attempts\)/,
    calls: 3,
  },
  {
    fault: 'truncated JSON',
    install: (h) => h.emu.faults.add({ match: bFirstPage, status: 200, body: '{"name":"app/b","tags":["1.0.0","1.0' }),
    outcome: 'repository-fails',
    cause: /tags\/list\?n=2: response is not valid JSON/,
    calls: 1,
  },
  {
    fault: 'malformed JSON',
    install: (h) => h.emu.faults.add({ match: bSecondPage, malformed: true }),
    outcome: 'repository-fails',
    cause: /tags\/list\?n=2&last=1\.0\.1: response is not valid JSON/,
    calls: 2,
  },
  {
    fault: 'a field of the wrong type (tags as a string)',
    install: (h) => h.emu.faults.add({ match: bFirstPage, status: 200, body: '{"name":"app/b","tags":"1.0.0"}' }),
    outcome: 'repository-fails',
    cause: /unexpected response shape \(tags: /,
    calls: 1,
  },
  {
    fault: 'a Link back to the page just read (loop)',
    install: (h) =>
      h.emu.faults.add({ match: bFirstPage, status: 200, body: '{"name":"app/b","tags":["1.0.0","1.0.1"]}', headers: { Link: '</v2/app/b/tags/list?n=2>; rel="next"' } }),
    outcome: 'repository-fails',
    cause: /lead back to a page already read \(pagination loop\)/,
    calls: 1,
  },
  {
    fault: 'a listing that never ends (the same page, linking on for ever)',
    install: (h) => {
      let page = 0;
      h.emu.faults.add({
        match: bTags,
        respond: () => ({ status: 200, body: '{"name":"app/b","tags":["1.0.0","1.0.1"]}', headers: { Link: `</v2/app/b/tags/list?n=2&last=x${++page}>; rel="next"` } }),
      });
    },
    outcome: 'repository-fails',
    cause: /page 2 lists nothing new but links to another page \(pagination loop: the listing would never end/,
    calls: 2,
  },
  {
    fault: 'manifest HEAD answering 503 for good',
    install: (h) => h.emu.faults.add({ match: /^HEAD \/v2\/app\/b\/manifests\/latest$/, status: 503 }),
    outcome: 'repository-fails',
    cause: /tag "latest": HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/app\/b\/manifests\/latest: HTTP 503 \(gave up after 3 attempts\)/,
  },
  {
    fault: 'a tag deleted between tags/list and its manifest HEAD',
    install: (h) => h.emu.faults.add({ match: onFirst(/^HEAD \/v2\/app\/b\/manifests\//, () => h.emu.deleteTag(names.b, 'latest')) }),
    outcome: 'repository-fails',
    cause: /tag "latest" was listed but its manifest was not found/,
  },
  {
    fault: 'the repository deleted between the catalog and its tags/list',
    install: (h) => h.emu.faults.add({ match: onFirst(bTags, () => h.emu.deleteRepository(names.b)) }),
    outcome: 'vanishes',
    cause: /listed by the catalog but gone when read: .*HTTP 404 \(NAME_UNKNOWN/,
    calls: 1,
  },
  {
    fault: 'the catalog answering 503 for good',
    install: (h) => h.emu.faults.add({ match: /^GET \/v2\/_catalog/, status: 503 }),
    outcome: 'target-fails',
    cause: /listing repositories failed: GET http:\/\/127\.0\.0\.1:\d+\/v2\/_catalog\?n=2: HTTP 503 \(gave up after 3 attempts\)/,
    calls: 0,
  },
  {
    fault: 'the catalog suddenly empty',
    install: (h) => h.emu.faults.add({ match: /^GET \/v2\/_catalog/, status: 200, body: '{"repositories":[]}' }),
    outcome: 'target-fails',
    cause: /the registry listed no repositories at all, but 3 were present at the last scan; none is recorded as gone/,
    calls: 0,
  },
];

describeFaultMatrix('OCI registry faults through runScan', cases, harness);
