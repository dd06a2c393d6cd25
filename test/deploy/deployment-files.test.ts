/**
 * The deployment files cannot rot silently: docker-compose.yml is validated against the Compose
 * specification's JSON Schema (no Docker engine needed), and the Dockerfile, the compose config and
 * the Kubernetes examples are checked against what the code actually serves and accepts.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import YAML from 'yaml';
import { Ajv } from 'ajv';
import pino from 'pino';
import { repoRoot } from '../helpers/cli.js';
import { parseConfig } from '../../src/config/load.js';
import { listenAddress, DEFAULT_SHUTDOWN_TIMEOUT } from '../../src/cli/serve.js';
import { parseDuration } from '../../src/config/common.js';
import { buildApiServer, PUBLIC_PATHS } from '../../src/api/server.js';
import { ServiceMetrics } from '../../src/api/metrics.js';
import type { Database } from '../../src/store/db.js';

const read = (...p: string[]) => readFileSync(join(repoRoot, ...p), 'utf8');
const require = createRequire(import.meta.url);
const env = { TAGLEDGER_API_TOKEN: 'test-token', DATABASE_URL: '' };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- manifests are read as plain YAML trees
type K8s = Record<string, any> & { kind: string };
const manifests: K8s[] = readdirSync(join(repoRoot, 'deploy', 'kubernetes'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => YAML.parseAllDocuments(read('deploy', 'kubernetes', f)).map((d) => d.toJS() as K8s));
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);

/** The commands the CLI registers (read from its help, as a user would). */
async function cliCommands(): Promise<string[]> {
  const { execFileSync } = await import('node:child_process');
  const help = execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'main.ts'), '--help'], { cwd: repoRoot, encoding: 'utf8' });
  return [...help.matchAll(/^ {2}([a-z-]+)(?: |\[|$)/gm)].map((m) => m[1]);
}

async function apiRoutesExist(paths: string[]): Promise<void> {
  // Route existence needs no database; the server is never asked to answer.
  const app = await buildApiServer({ db: {} as Database, targets: [], token: 'x', metrics: new ServiceMetrics(null), logger: pino({ level: 'silent' }) });
  try {
    for (const p of paths) expect(app.hasRoute({ method: 'GET', url: p }), p).toBe(true);
  } finally {
    await app.close();
  }
}

describe('docker-compose.yml', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a plain YAML tree
  const compose = YAML.parse(read('docker-compose.yml')) as { services: Record<string, any> };

  it('is valid against the Compose specification schema', () => {
    const schema = JSON.parse(read('test', 'fixtures', 'compose-spec.json')) as object;
    // The schema declares "$schema": "https://json-schema.org/draft-07/schema" (https, no #): register
    // Ajv's bundled draft-07 meta-schema under that id. It uses no `format`, so formats are not validated;
    // strict mode is off because the schema uses union types and keywords Ajv's strict mode flags.
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    ajv.addMetaSchema({ ...(require('ajv/dist/refs/json-schema-draft-07.json') as object), $id: 'https://json-schema.org/draft-07/schema' });
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    // And the validator does reject a broken file.
    expect(validate({ services: { tagledger: { image: 'x', restart_policy: 'sometimes', ports: 'not-a-list' } } })).toBe(false);
  });

  it('wires serve to PostgreSQL and the registry with a config that tagledger accepts', () => {
    const { postgres, registry, tagledger } = compose.services;
    expect(registry.image).toBe('registry:2');
    expect(postgres.image).toMatch(/^postgres:/);
    expect(tagledger.command).toEqual(['serve']);
    const dbUrl = new URL(tagledger.environment.DATABASE_URL as string);
    expect(dbUrl.hostname).toBe('postgres');
    expect(dbUrl.username).toBe(postgres.environment.POSTGRES_USER);
    expect(dbUrl.pathname).toBe(`/${postgres.environment.POSTGRES_DB}`);

    const mount = (tagledger.volumes as string[]).find((v) => v.includes(tagledger.environment.TAGLEDGER_CONFIG))!;
    const hostPath = mount.split(':')[0];
    const config = parseConfig(read(hostPath), { env });
    const { address } = listenAddress(config, undefined);
    expect(tagledger.ports).toContain(`127.0.0.1:${address.port}:${address.port}`);
    expect(new URL((config.targets[0] as { url: string }).url).hostname).toBe('registry');
    expect(config.retention?.olderThan).toBeDefined();
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds in two stages, installs production dependencies only without scripts, runs serve as non-root', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/tagledger.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    // Everything read at run time is copied: the compiled code, the launcher, migrations, package.json (version).
    for (const p of ['/app/dist', 'bin', 'migrations', 'package.json']) expect(dockerfile).toContain(p);
  });

  it('health-checks /healthz with node on the port it exposes', async () => {
    const check = /^HEALTHCHECK .*\n?.*CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]+)'\)/m.exec(dockerfile);
    expect(check).not.toBeNull();
    expect(dockerfile).toContain(`EXPOSE ${check![1]}`);
    expect(PUBLIC_PATHS.has(check![2])).toBe(true);
    await apiRoutesExist([check![2]]);
  });
});

describe('Kubernetes examples', () => {
  const [deployment] = byKind('Deployment');
  const container = deployment.spec.template.spec.containers[0];
  const [configMap] = byKind('ConfigMap');
  const config = parseConfig(configMap.data['tagledger.yaml'], { env });

  it('probe paths that exist and need no token, on the port the config listens on', async () => {
    const probes = ['livenessProbe', 'readinessProbe', 'startupProbe'].map((p) => container[p]?.httpGet).filter(Boolean);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of probes) expect(PUBLIC_PATHS.has(probe.path), probe.path).toBe(true);
    await apiRoutesExist(probes.map((p) => p.path));

    const port = container.ports.find((p: { name: string }) => p.name === probes[0].port);
    const { address, token } = listenAddress(config, undefined);
    expect(port.containerPort).toBe(address.port);
    expect(token).toBe('test-token'); // listening on 0.0.0.0 needs one
    const [service] = byKind('Service');
    expect(service.spec.ports[0].targetPort).toBe(port.name);
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(address.port));
  });

  it('runs commands that exist, with the config and secrets the config refers to', async () => {
    const commands = await cliCommands();
    const [cronJob] = byKind('CronJob');
    const job = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
    expect(container.args).toEqual(['serve']);
    expect(commands).toContain('serve');
    expect(job.args.at(-1)).toBe('scan');
    expect(commands).toContain('scan');
    for (const c of [container, job]) {
      const envNames = (c.env as Array<{ name: string; value?: string }>).map((e) => e.name);
      expect(envNames).toEqual(expect.arrayContaining(['TAGLEDGER_CONFIG', 'DATABASE_URL', 'TAGLEDGER_API_TOKEN']));
      const configPath = c.env.find((e: { name: string }) => e.name === 'TAGLEDGER_CONFIG').value as string;
      expect(c.volumeMounts.some((m: { mountPath: string }) => configPath === `${m.mountPath}/tagledger.yaml`)).toBe(true);
    }
    const secretKeys = Object.keys(byKind('Secret')[0].stringData as object);
    for (const e of (container.env as Array<{ valueFrom?: { secretKeyRef: { key: string } } }>).filter((x) => x.valueFrom)) {
      expect(secretKeys).toContain(e.valueFrom!.secretKeyRef.key);
    }
  });

  it('gives serve more time to stop than its shutdown bound, and declares the workload identities', () => {
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(parseDuration(DEFAULT_SHUTDOWN_TIMEOUT));
    const [sa] = byKind('ServiceAccount');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(Object.keys(sa.metadata.annotations)).toEqual(expect.arrayContaining(['eks.amazonaws.com/role-arn', 'iam.gke.io/gcp-service-account']));
    expect(config.targets.map((t) => t.kind).sort()).toEqual(['ecr', 'gar']);
    // No credentials in the config: IRSA and Workload Identity provide them.
    expect(configMap.data['tagledger.yaml']).not.toMatch(/keyFile|accessKey|secretAccessKey/);
  });
});
