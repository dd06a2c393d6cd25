/**
 * Every response the Harbor emulator gives on the endpoints tagledger reads (and on the changes it
 * guards) is checked against Harbor's own API description, api/v2.0/swagger.yaml of Harbor v2.15.2
 * (kept in the shared reference folder): the status must be one the operation declares (or an error
 * in Harbor's `Errors` shape), the body must satisfy the declared schema, and the declared headers
 * must be there with the declared types. So the emulator cannot drift from Harbor unnoticed.
 *
 * The validator is a small subset of JSON Schema as swagger 2.0 uses it: `$ref`, `type`, `format`
 * (date-time, int32, int64), `properties`, `additionalProperties`, `items`, `required`,
 * `x-nullable`. It is stricter than JSON Schema in one way: a property the definition does not
 * declare is an error, so the emulator cannot invent fields. It allows `null` for arrays, because
 * go-swagger serialises a nil slice as null and Harbor does send it (`scope_selectors` entries).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHarborEmulator, type HarborEmulator } from './index.js';

type Schema = Record<string, unknown>;

const here = dirname(fileURLToPath(import.meta.url));
/** Harbor's own API description, kept with the test fixtures (origin in test/fixtures/SOURCES.md). */
function findSwagger(): string {
  return join(here, '..', '..', '..', 'test', 'fixtures', 'harbor-v2.15.2-swagger.yaml');
}

const swagger = parse(readFileSync(findSwagger(), 'utf8')) as {
  basePath: string;
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, Schema> }>>;
  responses: Record<string, Schema>;
  definitions: Record<string, Schema>;
};

function resolve(schema: Schema): Schema {
  let s = schema;
  for (let i = 0; typeof s.$ref === 'string' && i < 20; i++) {
    const ref = s.$ref as string;
    const m = /^#\/(definitions|responses)\/(.+)$/.exec(ref);
    if (!m) throw new Error(`unsupported $ref ${ref}`);
    const target = (swagger[m[1] as 'definitions' | 'responses'] as Record<string, Schema>)[m[2]];
    if (!target) throw new Error(`dangling $ref ${ref}`);
    s = target;
  }
  return s;
}

const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function validate(schemaIn: Schema, value: unknown, path: string, errors: string[]): void {
  const schema = resolve(schemaIn);
  if (value === null) {
    if (schema['x-nullable'] === true || schema.type === 'array') return;
    errors.push(`${path}: null is not allowed`);
    return;
  }
  const type = (schema.type as string | undefined) ?? (schema.properties || schema.additionalProperties ? 'object' : undefined);
  switch (type) {
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return void errors.push(`${path}: expected an object, got ${JSON.stringify(value)}`);
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      for (const req of (schema.required as string[] | undefined) ?? []) {
        if (!(req in (value as object))) errors.push(`${path}: required property "${req}" is missing`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (props[k]) validate(props[k], v, `${path}.${k}`, errors);
        else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') validate(schema.additionalProperties as Schema, v, `${path}.${k}`, errors);
        else if (schema.additionalProperties !== true) errors.push(`${path}: property "${k}" is not declared`);
      }
      return;
    }
    case 'array':
      if (!Array.isArray(value)) return void errors.push(`${path}: expected an array`);
      value.forEach((item, i) => schema.items && validate(schema.items as Schema, item, `${path}[${i}]`, errors));
      return;
    case 'string':
      if (typeof value !== 'string') return void errors.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
      if (schema.format === 'date-time' && !dateTime.test(value)) errors.push(`${path}: "${value}" is not a date-time`);
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return void errors.push(`${path}: expected an integer, got ${JSON.stringify(value)}`);
      if (schema.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) errors.push(`${path}: ${value} is out of int32 range`);
      return;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: expected a number`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') errors.push(`${path}: expected a boolean, got ${JSON.stringify(value)}`);
      return;
    case undefined:
      return; // an unconstrained schema
    default:
      errors.push(`${path}: unsupported schema type ${type}`);
  }
}

/** The swagger operation for a request: the path template whose segments match the raw path. */
function operationFor(method: string, rawPath: string): { template: string; op: { operationId: string; responses: Record<string, Schema> } } {
  const rel = rawPath.slice(swagger.basePath.length);
  const segs = rel.split('/');
  for (const [template, ops] of Object.entries(swagger.paths)) {
    const t = template.split('/');
    if (t.length !== segs.length) continue;
    if (!t.every((part, i) => (part.startsWith('{') && part.endsWith('}') ? segs[i] !== '' : part === segs[i]))) continue;
    const op = ops[method.toLowerCase()];
    if (op) return { template, op };
  }
  throw new Error(`no swagger operation for ${method} ${rawPath}`);
}

interface Checked {
  status: number;
  body: unknown;
  headers: Headers;
  operationId: string;
}

const checkedStatuses = new Map<string, Set<number>>();

async function call(emu: HarborEmulator, method: string, pathAndQuery: string, opts: { auth?: string | null; headers?: Record<string, string> } = {}): Promise<Checked> {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth === undefined ? `${emu.username}:${emu.password}` : opts.auth;
  if (auth !== null) headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  const res = await fetch(`${emu.url}${pathAndQuery}`, { method, headers });
  const text = await res.text();
  const body = text === '' ? null : JSON.parse(text);
  const rawPath = pathAndQuery.split('?')[0];
  const { template, op } = operationFor(method, rawPath);
  const declared = op.responses[String(res.status)];
  const errors: string[] = [];
  let schema: Schema | undefined;
  if (declared) {
    const response = resolve(declared);
    schema = response.schema as Schema | undefined;
    for (const [name, h] of Object.entries((response.headers ?? {}) as Record<string, Schema>)) {
      const v = res.headers.get(name);
      if (name === 'X-Total-Count') {
        if (v === null) errors.push(`header ${name} is missing`);
        else if (!/^\d+$/.test(v)) errors.push(`header ${name} is not an ${h.type}: ${v}`);
      }
      if (name === 'Link' && v !== null && !/^<[^>]+>; rel="(prev|next)"( , <[^>]+>; rel="next")?$/.test(v)) errors.push(`header Link is malformed: ${v}`);
    }
  } else if (res.status >= 400) {
    // Statuses an operation does not declare (go-swagger's own 422 validation errors among them) are
    // still sent in Harbor's error shape (src/lib/http/error.go).
    schema = { $ref: '#/definitions/Errors' };
  } else {
    errors.push(`status ${res.status} is not declared for ${method} ${template}`);
  }
  if (schema) validate(schema, body, 'body', errors);
  else if (body !== null) errors.push('a body was sent where the swagger declares none');
  if (res.status >= 400) {
    const first = (body as { errors?: Array<{ code?: string }> } | null)?.errors?.[0];
    if (!first?.code) errors.push('an error response without an error code');
  }
  expect(errors, `${method} ${pathAndQuery} → ${res.status} (${op.operationId})`).toEqual([]);
  const seen = checkedStatuses.get(op.operationId) ?? new Set<number>();
  seen.add(res.status);
  checkedStatuses.set(op.operationId, seen);
  return { status: res.status, body, headers: res.headers, operationId: op.operationId };
}

describe('Harbor emulator responses conform to the Harbor v2.15.2 swagger', () => {
  let emu: HarborEmulator;
  const api = '/api/v2.0';
  let bigDigest = '';
  let manyTagsDigest = '';

  beforeAll(async () => {
    emu = await startHarborEmulator({ artifactTagLimit: 1000 });
    emu.createProject('team-a');
    emu.createProject('team-b', { public: true });
    emu.createProject('2024');
    emu.createProject('locked');
    emu.addRule('team-a', { repository: { pattern: '**' }, tag: { pattern: 'v*' } });
    emu.addRule('team-a', { repository: { decoration: 'repoExcludes', pattern: 'legacy/**' }, tag: { decoration: 'excludes', pattern: '{latest,dev-*}' }, disabled: true });
    emu.addRule('team-a', { repository: { pattern: '' }, tag: { pattern: '' } }); // empty patterns: serialised without `pattern`
    emu.addRule('team-a', { tagSelectors: [], scopeSelectors: { repository: [] } }); // no selectors at all
    emu.addRule('2024', { tag: { pattern: 'release-*' } });
    emu.pushImage('team-a/svc/api', 'v1.0');
    emu.pushImage('team-a/svc/api', 'latest');
    for (let i = 0; i < 130; i++) bigDigest = emu.pushImage('team-a/big', `build-${i}`).digest;
    manyTagsDigest = emu.pushImage('team-b/tools', 't-0').digest;
    for (let i = 1; i < 1005; i++) emu.pushImage('team-b/tools', `t-${i}`, { digest: manyTagsDigest });
    emu.pushImage('2024/app', 'release-1');
    emu.pushImage('locked/x', 'v1');
    emu.denyProject('locked');
  });
  afterAll(() => emu.close());

  it('projects: default page, explicit pages, Link and X-Total-Count', async () => {
    const all = await call(emu, 'GET', `${api}/projects`);
    expect(all.status).toBe(200);
    expect((all.body as Array<{ name: string }>).map((p) => p.name)).toEqual(['2024', 'locked', 'team-a', 'team-b']);
    const p1 = await call(emu, 'GET', `${api}/projects?page=1&page_size=3`);
    expect(p1.headers.get('x-total-count')).toBe('4');
    expect(p1.headers.get('link')).toBe(`<${api}/projects?page=2&page_size=3>; rel="next"`);
    const p2 = await call(emu, 'GET', `${api}/projects?page=2&page_size=3`);
    expect(p2.headers.get('link')).toBe(`<${api}/projects?page=1&page_size=3>; rel="prev"`);
    const middle = await call(emu, 'GET', `${api}/projects?page_size=1&page=2`);
    expect(middle.headers.get('link')).toBe(`<${api}/projects?page=1&page_size=1>; rel="prev" , <${api}/projects?page=3&page_size=1>; rel="next"`);
  });

  it('projects: anonymous callers see public projects only; bad credentials are 401', async () => {
    const anon = await call(emu, 'GET', `${api}/projects`, { auth: null });
    expect((anon.body as Array<{ name: string }>).map((p) => p.name)).toEqual(['team-b']);
    const bad = await call(emu, 'GET', `${api}/projects`, { auth: 'robot$tagledger:wrong' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ errors: [{ code: 'UNAUTHORIZED', message: 'unauthorized' }] });
  });

  it('page_size above 100 is refused with 422, as go-swagger validates the maximum', async () => {
    const r = await call(emu, 'GET', `${api}/projects?page_size=101`);
    expect(r.status).toBe(422);
    expect(r.body).toEqual({ errors: [{ code: 'UNPROCESSABLE_ENTITY', message: 'validation failure list:\npage_size in query should be less than or equal to 100' }] });
  });

  it('immutable tag rules, by name (X-Is-Resource-Name) and by id', async () => {
    const rules = await call(emu, 'GET', `${api}/projects/team-a/immutabletagrules`, { headers: { 'X-Is-Resource-Name': 'true' } });
    expect(rules.status).toBe(200);
    const list = rules.body as Array<Record<string, unknown>>;
    expect(list).toHaveLength(4);
    expect(list[0]).not.toHaveProperty('disabled'); // go-swagger omits false
    expect(list[1].disabled).toBe(true);
    expect(list[2].tag_selectors).toEqual([{ kind: 'doublestar', decoration: 'matches' }]); // empty pattern omitted
    expect(list[3]).toMatchObject({ scope_selectors: { repository: null } });
    expect(list[3]).not.toHaveProperty('tag_selectors');
    // "2024" is read as an id unless the header says it is a name
    const byName = await call(emu, 'GET', `${api}/projects/2024/immutabletagrules`, { headers: { 'X-Is-Resource-Name': 'true' } });
    expect((byName.body as unknown[]).length).toBe(1);
    const byId = await call(emu, 'GET', `${api}/projects/2024/immutabletagrules`);
    expect(byId.status).toBe(403); // no project has id 2024
    const teamA = (await call(emu, 'GET', `${api}/projects?page_size=100`)).body as Array<{ name: string; project_id: number }>;
    const id = teamA.find((p) => p.name === 'team-a')!.project_id;
    expect(((await call(emu, 'GET', `${api}/projects/${id}/immutabletagrules`)).body as unknown[]).length).toBe(4);
  });

  it('repositories list full names, nested ones included', async () => {
    const r = await call(emu, 'GET', `${api}/projects/team-a/repositories`);
    expect((r.body as Array<{ name: string }>).map((x) => x.name).sort()).toEqual(['team-a/big', 'team-a/svc/api']);
  });

  it('artifacts with tags and immutable status, over pages, double-encoded names', async () => {
    const p1 = await call(emu, 'GET', `${api}/projects/team-a/repositories/big/artifacts?with_tag=true&with_immutable_status=true&page_size=100`);
    expect((p1.body as unknown[]).length).toBe(100);
    expect(p1.headers.get('x-total-count')).toBe('130');
    expect(p1.headers.get('link')).toBe(`<${api}/projects/team-a/repositories/big/artifacts?page=2&page_size=100&with_immutable_status=true&with_tag=true>; rel="next"`);
    const p2 = await call(emu, 'GET', `${api}/projects/team-a/repositories/big/artifacts?page=2&page_size=100&with_immutable_status=true&with_tag=true`);
    expect((p2.body as unknown[]).length).toBe(30);
    const nested = await call(emu, 'GET', `${api}/projects/team-a/repositories/svc%252Fapi/artifacts?with_immutable_status=true`);
    const tags = (nested.body as Array<{ tags: Array<{ name: string; immutable: boolean }> }>).flatMap((a) => a.tags);
    expect(tags.map((t) => [t.name, t.immutable]).sort()).toEqual([
      ['latest', true], // the rule with empty patterns protects everything
      ['v1.0', true],
    ]);
    // Encoded once, the name is split by the proxy in front of Harbor and nothing matches.
    const once = await call(emu, 'GET', `${api}/projects/team-a/repositories/svc%2Fapi/artifacts`);
    expect(once.status).toBe(404);
  });

  it("an artifact's tags through its own paged endpoint", async () => {
    const embedded = await call(emu, 'GET', `${api}/projects/team-b/repositories/tools/artifacts?with_tag=true&page_size=100`);
    expect((embedded.body as Array<{ tags: unknown[] }>)[0].tags).toHaveLength(1000); // artifactTagLimit
    const page = await call(emu, 'GET', `${api}/projects/team-b/repositories/tools/artifacts/${manyTagsDigest}/tags?with_immutable_status=true&page=11&page_size=100`);
    expect(page.headers.get('x-total-count')).toBe('1005');
    expect((page.body as unknown[]).length).toBe(5);
    const missing = await call(emu, 'GET', `${api}/projects/team-b/repositories/tools/artifacts/sha256:${'0'.repeat(64)}/tags`);
    expect(missing.status).toBe(404);
  });

  it('a denied project answers 403 everywhere; an anonymous caller gets 401 on private projects', async () => {
    expect((await call(emu, 'GET', `${api}/projects/locked/repositories`)).status).toBe(403);
    expect((await call(emu, 'GET', `${api}/projects/locked/immutabletagrules`, { headers: { 'X-Is-Resource-Name': 'true' } })).status).toBe(403);
    expect((await call(emu, 'GET', `${api}/projects/locked/repositories/x/artifacts`)).status).toBe(403);
    expect((await call(emu, 'GET', `${api}/projects/team-a/repositories`, { auth: null })).status).toBe(401);
    // public project: readable anonymously, but its rules are not
    expect((await call(emu, 'GET', `${api}/projects/team-b/repositories`, { auth: null })).status).toBe(200);
    expect((await call(emu, 'GET', `${api}/projects/team-b/immutabletagrules`, { auth: null, headers: { 'X-Is-Resource-Name': 'true' } })).status).toBe(401);
  });

  it('deleting an immutable tag is refused with 412 PRECONDITION; a mutable one is deleted', async () => {
    const refused = await call(emu, 'DELETE', `${api}/projects/team-a/repositories/svc%252Fapi/artifacts/v1.0/tags/v1.0`);
    expect(refused.status).toBe(412);
    expect(refused.body).toEqual({ errors: [{ code: 'PRECONDITION', message: 'the tag v1.0 configured as immutable, cannot be deleted' }] });
    expect((await call(emu, 'DELETE', `${api}/projects/team-a/repositories/big/artifacts/${bigDigest}/tags/build-129`)).status).toBe(412);
    const deleted = await call(emu, 'DELETE', `${api}/projects/team-b/repositories/tools/artifacts/${manyTagsDigest}/tags/t-1004`);
    expect(deleted.status).toBe(200);
    const gone = await call(emu, 'DELETE', `${api}/projects/team-b/repositories/tools/artifacts/${manyTagsDigest}/tags/t-1004`);
    expect(gone.status).toBe(404);
  });

  it('pushing over an immutable tag is refused with 412, like Harbor\'s immutable middleware', async () => {
    const auth = `Basic ${Buffer.from(`${emu.username}:${emu.password}`).toString('base64')}`;
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] });
    const put = (tag: string) =>
      fetch(`${emu.url}/v2/team-a/svc/api/manifests/${tag}`, { method: 'PUT', headers: { Authorization: auth, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
    const refused = await put('v1.0');
    expect(refused.status).toBe(412);
    expect(await refused.json()).toEqual({ errors: [{ code: 'PRECONDITION', message: "Failed to process request due to 'svc/api:v1.0' configured as immutable." }] });
    const fresh = await put('v2.0');
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('docker-content-digest')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(emu.isImmutable('team-a/svc/api', 'v2.0')).toBe(true);
  });

  it('the validator itself catches drift: undeclared fields, wrong types, bad times, a wrong error shape', () => {
    const errorsOf = (ref: string, value: unknown) => {
      const errors: string[] = [];
      validate({ $ref: ref }, value, 'body', errors);
      return errors;
    };
    expect(errorsOf('#/definitions/Tag', { name: 'v1', immutable: false })).toEqual([]);
    expect(errorsOf('#/definitions/Tag', { name: 'v1', immutable: 'yes' })).toEqual(['body.immutable: expected a boolean, got "yes"']);
    expect(errorsOf('#/definitions/Tag', { name: 'v1', frozen: true })).toEqual(['body: property "frozen" is not declared']);
    expect(errorsOf('#/definitions/Tag', { name: 'v1', push_time: 'yesterday' })).toEqual(['body.push_time: "yesterday" is not a date-time']);
    expect(errorsOf('#/definitions/Artifact', { digest: 'sha256:1', tags: [{ id: 1.5 }] })).toEqual(['body.tags[0].id: expected an integer, got 1.5']);
    expect(errorsOf('#/definitions/Errors', { errors: [{ code: 403 }] })).toEqual(['body.errors[0].code: expected a string, got 403']);
    expect(errorsOf('#/definitions/Project', null)).toEqual(['body: null is not allowed']);
  });

  it('covered every operation tagledger reads, with success and error answers', () => {
    for (const op of ['listProjects', 'ListImmuRules', 'listRepositories', 'listArtifacts', 'listTags', 'deleteTag']) {
      const statuses = [...(checkedStatuses.get(op) ?? [])];
      expect(statuses.some((s) => s < 300), `${op} answered with success`).toBe(true);
      expect(statuses.some((s) => s >= 400), `${op} answered with an error`).toBe(true);
    }
  });
});
