/**
 * `check` against a ledger seeded by real scans (OCI and ECR emulators through runScan, one tag
 * moved, one repository failing in the last scan): every fixture reference's verdict, severity and
 * file:line; pull hosts; pins that keep comments and carry the ledger's digests; SARIF that validates
 * against the SARIF 2.1.0 schema; the per-repository strategy summary.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { repoRoot } from '../helpers/cli.js';
import { ECR_HOST, SHOP_PULL_HOSTS, seedCheckLedger, type CheckLedger } from '../helpers/check-ledger.js';
import { collectInputs } from '../../src/check/inputs.js';
import { runCheck, type CheckOptions, type CheckResult } from '../../src/check/run.js';
import { planPins } from '../../src/check/pin.js';
import { checkSarif } from '../../src/check/sarif.js';
import { tagStrategySummary } from '../../src/check/strategy-summary.js';
import { stubAwsCredentials } from '../helpers/aws.js';

const require = createRequire(import.meta.url);
const fixtures = relative(process.cwd(), join(repoRoot, 'test', 'fixtures', 'check'));
const opts: CheckOptions = { movedWithin: { ms: 30 * 86_400_000, label: '30d' }, pullHosts: { shop: SHOP_PULL_HOSTS } };

let t: TestDatabase;
let ledger: CheckLedger;
let tmp: string;

beforeAll(async () => {
  stubAwsCredentials('AKIACHECKTEST', 'check-test-secret');
  tmp = mkdtempSync(join(tmpdir(), 'tagledger-check-'));
  t = await openTestDatabase();
  ledger = await seedCheckLedger(t.db);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await ledger?.close();
  await t?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const noInput = async () => '';
const run = async (paths: string[], o: CheckOptions = opts) => runCheck(t.db, await collectInputs(paths, noInput), o);
const row = (r: CheckResult) => [`${r.file.slice(fixtures.length + 1)}:${r.line}`, r.verdict, r.severity, r.reference];

describe('check against a scanned ledger', () => {
  it('seeded the ledger with one moved tag and a partial last scan', () => {
    expect(ledger.scans.map((s) => [s.target, s.status, s.events.moved])).toEqual([
      ['shop', 'succeeded', 0],
      ['aws', 'succeeded', 0],
      ['shop', 'partial', 1],
    ]);
    expect(ledger.scans[2].errors).toEqual([{ repository: 'shop/worker', code: 'failed', message: expect.stringContaining('500') }]);
  });

  it('gives every fixture reference its verdict, severity and file:line', async () => {
    const { entries } = await run([fixtures]);
    expect(entries.map((e) => row(e.result))).toEqual([
      ['compose/docker-compose.yml:8', 'floating', 'high', 'mirror.shop.example:5000/cache/shop/web:stable'],
      ['compose/docker-compose.yml:10', 'not-protected', 'medium', 'registry.shop.example/shop/api:v1.1.0'],
      ['compose/docker-compose.yml:12', 'not-protected', 'medium', 'registry.shop.example/shop/worker:2.0.0'],
      ['compose/docker-compose.yml:14', 'floating', 'high', 'postgres:16.2'],
      ['compose/docker-compose.yml:16', 'unresolved', 'info', '${REGISTRY:-registry.shop.example}/shop/tools:${TOOLS_TAG}'],
      ['docker/Dockerfile:6', 'unresolved', 'info', 'golang:${GO_VERSION}'],
      ['docker/Dockerfile:12', 'not-protected', 'medium', 'registry.shop.example/shop/web:1.4.2'],
      ['docker/Dockerfile:17', 'floating', 'high', 'registry.shop.example/shop/api:latest'],
      ['docker/Dockerfile:20', 'not-protected', 'medium', `${ECR_HOST}/payments/api:dev-7`],
      ['docker/Dockerfile:23', 'unresolved', 'info', '${BASE}'],
      ['helm/rendered.yaml:23', 'moved', 'high', 'registry.shop.example/shop/api:v1.0.0'],
      ['helm/rendered.yaml:27', 'pull-policy', 'high', 'registry.shop.example/shop/api:v1.1.0'],
      ['helm/rendered.yaml:31', 'not-protected', 'medium', 'registry.shop.example/shop/web:1.4.2'],
      ['helm/rendered.yaml:48', 'protected', 'none', `${ECR_HOST}/payments/api:v2.3.1`],
      ['helm/rendered.yaml:62', 'pull-policy', 'high', `${ECR_HOST}/payments/api:dev-7`],
      ['helm/rendered.yaml:74', 'floating', 'high', 'registry.shop.example/shop/api:latest'],
      ['odd/odd-references.yaml:9', 'pinned', 'none', 'localhost:5000/a/b/c:1.0@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
      ['odd/odd-references.yaml:11', 'floating', 'high', 'ubuntu'],
      ['odd/odd-references.yaml:13', 'not-audited', 'info', 'ghcr.io/x/y:sha-abc1234'],
      ['odd/odd-references.yaml:15', 'floating', 'high', 'docker.io/library/nginx'],
      ['odd/odd-references.yaml:17', 'invalid', 'high', 'registry.shop.example/Shop/API:v1'],
      ['odd/odd-references.yaml:20', 'floating', 'high', 'registry.shop.example/shop/web:stable'],
      ['odd/odd-references.yaml:28', 'unreadable', 'medium', null],
    ]);

    const at = (loc: string) => entries.find((e) => `${e.result.file.slice(fixtures.length + 1)}:${e.result.line}` === loc)!.result;
    const moved = at('helm/rendered.yaml:23');
    expect(moved.reason).toMatch(/^tag v1\.0\.0 moved on .* \(sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}\), within 30d$/);
    expect(moved.reason).toContain(ledger.movedFrom.slice(0, 19));
    expect(moved.ledger).toMatchObject({ target: 'shop', repository: 'shop/api', digest: ledger.digests['shop/api:v1.0.0'], protected: false, matchedBy: 'pull host registry.shop.example' });
    expect(moved.context).toBe('Deployment/api init container "migrate"');
    expect(at('helm/rendered.yaml:27').reason).toContain('the default imagePullPolicy (IfNotPresent');
    expect(at('helm/rendered.yaml:48').reason).toBe('tag v2.3.1 is protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches no exclusion ("dev-*")');
    expect(at('helm/rendered.yaml:48').ledger).toMatchObject({ target: 'aws', matchedBy: 'pull reference', digest: ledger.digests['payments/api:v2.3.1'] });
    expect(at('docker/Dockerfile:20').reason).toBe('tag dev-7 is not protected: repository is IMMUTABLE_WITH_EXCLUSION and tag matches exclusion "dev-*"');
    expect(at('docker/Dockerfile:12').context).toBe('FROM --platform=linux/amd64 (stage "assets")');
    expect(at('docker/Dockerfile:23').reason).toBe('not checked: uses build arg BASE (default "registry.shop.example/shop/api:v1.1.0"); build args are not resolved');
    expect(at('compose/docker-compose.yml:8').ledger).toMatchObject({ repository: 'shop/web', matchedBy: 'pull host mirror.shop.example:5000/cache' });
    expect(at('odd/odd-references.yaml:11').notes).toEqual(['not audited: no ledger target covers docker.io/library/ubuntu']);
    expect(at('odd/odd-references.yaml:13').strategy).toEqual({ strategy: 'git-sha', detail: 'commit hash' });
    expect(at('odd/odd-references.yaml:17').reason).toBe('not a valid image reference: repository name "Shop/API" must be lower-case');
    expect(at('odd/odd-references.yaml:28').reason).toMatch(/^YAML syntax error: .*; this document was not checked$/);
  });

  it('matches the stored pull reference itself, judges pinned digests and unknown tags', async () => {
    const host = new URL(ledger.oci.url).host;
    const file = join(tmp, 'direct.yaml');
    writeFileSync(
      file,
      `apiVersion: v1
kind: Pod
metadata: {name: direct}
spec:
  containers:
    - {name: a, image: "${host}/shop/web:1.4.2", imagePullPolicy: Always}
    - {name: b, image: "${host}/shop/api:v1.0.0@${ledger.movedFrom}"}
    - {name: c, image: "registry.shop.example/shop/api@${ledger.digests['shop/api:v1.1.0']}"}
    - {name: d, image: "registry.shop.example/shop/api:v9.9.9", imagePullPolicy: Always}
    - {name: e, image: "registry.shop.example/shop/gone:1.0.0", imagePullPolicy: Always}
`,
    );
    const results = (await run([file])).entries.map((e) => e.result);
    expect(results.map((r) => [r.line, r.verdict, r.severity])).toEqual([
      [6, 'not-protected', 'medium'],
      [7, 'pinned', 'none'],
      [8, 'pinned', 'none'],
      [9, 'unknown-tag', 'medium'],
      [10, 'not-audited', 'info'],
    ]);
    expect(results[0].ledger?.matchedBy).toBe('pull reference');
    expect(results[1].reason).toContain(`tag v1.0.0 now points to ${ledger.digests['shop/api:v1.0.0'].slice(0, 19)} in the ledger`);
    expect(results[2].reason).toContain('tag v1.1.0 points to it');
    expect(results[3].reason).toBe('the ledger has never seen tag v9.9.9 in shop/shop/api');
  });

  it('calls a move older than --moved-within no longer recent', async () => {
    const { entries } = await run([join(fixtures, 'helm', 'rendered.yaml')], { ...opts, movedWithin: { ms: 0, label: '0s' } });
    expect(entries.find((e) => e.result.line === 23)!.result).toMatchObject({ verdict: 'pull-policy', severity: 'high' });
  });

  it('pins to the ledger digests, keeps comments and quoting, and refuses a stale tag', async () => {
    const copy = join(tmp, 'pin');
    cpSync(fixtures, copy, { recursive: true });
    const before = await run([copy]);
    const plan = planPins(before);
    const byLine = (suffix: string) => plan.outcomes.filter((o) => o.file.endsWith(suffix)).map((o) => [o.line, o.status, o.pinned ?? o.reason]);

    const d = ledger.digests;
    expect(byLine('rendered.yaml')).toEqual([
      [23, 'pinned', `registry.shop.example/shop/api:v1.0.0@${d['shop/api:v1.0.0']}`],
      [27, 'pinned', `registry.shop.example/shop/api:v1.1.0@${d['shop/api:v1.1.0']}`],
      [31, 'pinned', `registry.shop.example/shop/web:1.4.2@${d['shop/web:1.4.2']}`],
      [48, 'pinned', `${ECR_HOST}/payments/api:v2.3.1@${d['payments/api:v2.3.1']}`],
      [62, 'pinned', `${ECR_HOST}/payments/api:dev-7@${d['payments/api:dev-7']}`],
      [74, 'pinned', `registry.shop.example/shop/api:latest@${d['shop/api:latest']}`],
    ]);
    expect(byLine('docker-compose.yml')).toEqual([
      [8, 'pinned', `mirror.shop.example:5000/cache/shop/web:stable@${d['shop/web:stable']}`],
      [10, 'pinned', `registry.shop.example/shop/api:v1.1.0@${d['shop/api:v1.1.0']}`],
      [12, 'refused', expect.stringMatching(/^the last successful scan of shop \(#\d+ on .*\) did not observe shop\/worker: its digests may be stale$/)],
      [14, 'skipped', 'not audited: no ledger target covers docker.io/library/postgres'],
      [16, 'skipped', expect.stringContaining('uses variables REGISTRY, TOOLS_TAG')],
    ]);
    expect(byLine('odd-references.yaml').filter((o) => o[1] !== 'skipped')).toEqual([[20, 'refused', 'the file has a YAML syntax error; it is not rewritten']]);
    expect(plan.files.map((f) => relative(copy, f.input.path!)).sort()).toEqual(['compose/docker-compose.yml', 'docker/Dockerfile', 'helm/rendered.yaml']);

    const helm = plan.files.find((f) => f.input.file.endsWith('rendered.yaml'))!;
    // Valid YAML, every comment kept, only the image lines changed, quoting as it was.
    expect(parseAllDocuments(helm.after).every((doc) => doc.errors.length === 0)).toBe(true);
    const comments = (s: string) => s.split('\n').filter((l) => l.includes('#')).map((l) => l.slice(l.indexOf('#')));
    expect(comments(helm.after)).toEqual(comments(helm.before));
    expect(comments(helm.before)).toContain('# Source: shop/templates/deployment-api.yaml');
    const a = helm.before.split('\n');
    const b = helm.after.split('\n');
    expect(b).toHaveLength(a.length);
    expect(a.filter((l, i) => l !== b[i]).map((l) => l.trim().split(':')[0])).toEqual(Array(6).fill('image'));
    expect(b[22]).toBe(`          image: "registry.shop.example/shop/api:v1.0.0@${d['shop/api:v1.0.0']}"`);
    expect(b[26]).toBe(`          image: registry.shop.example/shop/api:v1.1.0@${d['shop/api:v1.1.0']} # the release under test`);
    expect(b[30]).toBe(`          image: 'registry.shop.example/shop/web:1.4.2@${d['shop/web:1.4.2']}'`);

    const dockerfile = plan.files.find((f) => f.input.file.endsWith('Dockerfile'))!;
    expect(dockerfile.after.split('\n').filter((l, i) => l !== dockerfile.before.split('\n')[i])).toEqual([
      `FROM --platform=linux/amd64 registry.shop.example/shop/web:1.4.2@${d['shop/web:1.4.2']} AS assets`,
      `FROM registry.shop.example/shop/api:latest@${d['shop/api:latest']} AS runtime`,
      `COPY --from=${ECR_HOST}/payments/api:dev-7@${d['payments/api:dev-7']} \\`,
    ]);

    // The pinned Compose file is still a valid Compose file.
    const compose = plan.files.find((f) => f.input.file.endsWith('docker-compose.yml'))!;
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    ajv.addMetaSchema({ ...(require('ajv/dist/refs/json-schema-draft-07.json') as object), $id: 'https://json-schema.org/draft-07/schema' });
    const validCompose = ajv.compile(JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'compose-spec.json'), 'utf8')) as object);
    expect(validCompose(parseYaml(compose.before, { merge: true })), JSON.stringify(validCompose.errors)).toBe(true);
    expect(validCompose(parseYaml(compose.after, { merge: true })), JSON.stringify(validCompose.errors)).toBe(true);
    expect(validCompose({ services: { web: { image: 5 } } })).toBe(false);
    expect(compose.after).toContain('# through the pull-through cache');

    // Checked again, the pinned files are pinned, to digests the ledger's tags still name.
    for (const f of plan.files) writeFileSync(f.input.path!, f.after);
    const after = await run([join(copy, 'helm')]);
    expect(after.entries.map((e) => [e.result.verdict, e.result.reason.includes('still points to it in the ledger')])).toEqual(Array(6).fill(['pinned', true]));
  });

  it('writes SARIF that validates against the SARIF 2.1.0 schema', async () => {
    const sarif = checkSarif(await run([fixtures]), { version: '0.0.0-test' }) as {
      runs: Array<{ tool: { driver: { rules: Array<{ id: string }> } }; results: Array<{ ruleId: string; ruleIndex: number; level: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number; endColumn?: number } } }> }> }>;
    };
    const validate = sarifValidator();
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    // ...and the validator does reject a broken log.
    expect(validate({ version: '2.1.0', runs: [{ tool: { driver: {} } }] })).toBe(false);

    const [r] = sarif.runs;
    // Every reference that is not ok, and nothing else.
    expect(r.results).toHaveLength(21);
    expect(r.results.every((x) => r.tool.driver.rules[x.ruleIndex].id === x.ruleId)).toBe(true);
    const moved = r.results.find((x) => x.ruleId === 'check/moved')!;
    expect(moved.level).toBe('error');
    expect(moved.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: `${fixtures}/helm/rendered.yaml`, uriBaseId: '%SRCROOT%' },
      region: { startLine: 23, startColumn: 18, endColumn: 18 + '"registry.shop.example/shop/api:v1.0.0"'.length },
    });
    expect(r.results.filter((x) => x.ruleId === 'check/not-audited').map((x) => x.level)).toEqual(['note']);
  });

  it('summarises tagging strategies per repository from the ledger', async () => {
    const summary = await tagStrategySummary(t.db, { targetId: 'shop' });
    expect(summary.map((s) => s.repository)).toEqual(['shop/api', 'shop/web', 'shop/worker']);
    const api = summary[0];
    expect(api).toMatchObject({ tags: 3, byStrategy: { semver: 2, floating: 1, 'git-sha': 0, 'date-or-build': 0, other: 0 }, floatingUnprotected: ['latest'], versionTags: 2, versionTagsUnprotected: 2 });
    expect(api.repushedVersionTags).toEqual([{ tag: 'v1.0.0', strategy: 'semver', repushes: 1, lastAt: expect.any(Date) }]);
    expect(summary[1].floatingUnprotected).toEqual(['stable']);
    expect((await tagStrategySummary(t.db, { targetIds: ['shop', 'aws'] })).map((x) => `${x.targetId}/${x.repository}`)).toEqual(['aws/payments/api', 'shop/shop/api', 'shop/shop/web', 'shop/shop/worker']);
    expect(await tagStrategySummary(t.db, { targetIds: [] })).toEqual([]);
    const [aws] = await tagStrategySummary(t.db, { targetId: 'aws', repository: 'payments/api' });
    expect(aws).toMatchObject({ tags: 2, versionTags: 2, versionTagsUnprotected: 1, floatingUnprotected: [], repushedVersionTags: [] });
  });
});

/** The SARIF 2.1.0 schema is draft-04, which ajv 8 lacks: loaded as draft-07 (see test/fixtures/SOURCES.md). */
function sarifValidator() {
  const schema = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'sarif-schema-2.1.0.json'), 'utf8')) as Record<string, unknown>;
  expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
  const { id, $schema: _draft04, ...rest } = schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  ajv.addFormat('uri', (s: string) => /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/.test(s) && URL.canParse(s));
  ajv.addFormat('uri-reference', (s: string) => !/\s/.test(s) && URL.canParse(s, 'http://base.invalid/'));
  return ajv.compile({ ...rest, $id: id as string, $schema: 'http://json-schema.org/draft-07/schema#' });
}
