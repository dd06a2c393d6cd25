/**
 * The fetch floor: the same SDK and HTTP clients the collectors use, asking for every page a scan
 * asks for, with the collectors' page sizes and concurrency, and throwing each page away. No schema
 * validation, no observations, no database: what reading the registry costs at the least.
 */
import { paginateDescribeImages, paginateDescribeRepositories } from '@aws-sdk/client-ecr';
import pLimit from 'p-limit';
import pino from 'pino';
import { createEcrClient } from '../src/collectors/ecr/client.js';
import type { EcrTargetConfig } from '../src/collectors/ecr/config.js';
import { createArtifactRegistryClient } from '../src/collectors/gar/client.js';
import type { GarTargetConfig } from '../src/collectors/gar/config.js';
import { nextPageUrl } from '../src/collectors/harbor/links.js';
import { paths } from '../src/collectors/harbor/paths.js';
import type { HarborTargetConfig } from '../src/collectors/harbor/config.js';
import { RegistryClient } from '../src/collectors/oci/client.js';
import { RegistryApi } from '../src/collectors/oci/api.js';
import type { OciTargetConfig } from '../src/collectors/oci/config.js';
import { createHttpClient } from '../src/net/http.js';
import type { TargetEndpoint } from './estate-server.js';

/** The collectors' defaults (src/collectors/<kind>/index.ts). */
const CONCURRENCY = { ecr: 4, gar: 4, harbor: 4, oci: 8 } as const;

export async function fetchFloor(t: TargetEndpoint): Promise<void> {
  switch (t.kind) {
    case 'ecr':
      return ecr(t.config as unknown as EcrTargetConfig);
    case 'gar':
      return gar(t.config as unknown as GarTargetConfig);
    case 'harbor':
      return harbor(t.config as unknown as HarborTargetConfig);
    case 'oci':
      return oci(t.config as unknown as OciTargetConfig);
  }
}

async function ecr(target: EcrTargetConfig): Promise<void> {
  const client = createEcrClient(target);
  try {
    const names: string[] = [];
    for await (const page of paginateDescribeRepositories({ client, pageSize: 1000 }, {})) {
      for (const r of page.repositories ?? []) names.push(r.repositoryName!);
    }
    const limit = pLimit(CONCURRENCY.ecr);
    await Promise.all(
      names.map((repositoryName) =>
        limit(async () => {
          const pages = paginateDescribeImages({ client, pageSize: 1000 }, { repositoryName, filter: { tagStatus: 'TAGGED', imageStatus: 'ANY' } });
          for await (const page of pages) void page;
        }),
      ),
    );
  } finally {
    client.destroy();
  }
}

async function gar(target: GarTargetConfig): Promise<void> {
  const { client } = createArtifactRegistryClient(target);
  const options = { autoPaginate: false, retry: null, timeout: 60_000 } as const;
  try {
    const repositories: string[] = [];
    for (const location of target.locations) {
      let pageToken = '';
      do {
        const [, , response] = await client.listRepositories({ parent: `projects/${target.project}/locations/${location}`, pageSize: 1000, pageToken }, options);
        for (const r of response?.repositories ?? []) repositories.push(r.name!);
        pageToken = response?.nextPageToken ?? '';
      } while (pageToken);
    }
    const limit = pLimit(CONCURRENCY.gar);
    await Promise.all(
      repositories.map((parent) =>
        limit(async () => {
          let pageToken = '';
          do {
            const [, , response] = await client.listDockerImages({ parent, pageSize: 1000, pageToken }, options);
            pageToken = response?.nextPageToken ?? '';
          } while (pageToken);
        }),
      ),
    );
  } finally {
    await client.close();
  }
}

async function harbor(target: HarborTargetConfig): Promise<void> {
  const http = createHttpClient({ maxSockets: CONCURRENCY.harbor });
  const api = `${target.url.replace(/\/+$/, '')}/api/v2.0`;
  const headers = { Accept: 'application/json', Authorization: `Basic ${Buffer.from(`${target.username}:${target.password}`).toString('base64')}` };
  // Every page of a listing, following Link headers as the collector does; returns the parsed items.
  const all = async (path: string, query: Record<string, string> = {}, extra: Record<string, string> = {}): Promise<unknown[]> => {
    let url: string | null = `${api}${path}?${new URLSearchParams({ ...query, page: '1', page_size: '100' })}`;
    const items: unknown[] = [];
    while (url) {
      const res = await http.get<string>(url, { headers: { ...headers, ...extra } });
      if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
      items.push(...(JSON.parse(res.data) as unknown[]));
      url = nextPageUrl(res.headers.link as string | undefined, url);
    }
    return items;
  };
  const projects = (await all(paths.projects())) as Array<{ name: string }>;
  const limit = pLimit(CONCURRENCY.harbor);
  for (const p of projects) {
    await all(paths.immutableRules(p.name), {}, { 'X-Is-Resource-Name': 'true' });
    const repos = (await all(paths.repositories(p.name))) as Array<{ name: string }>;
    await Promise.all(
      repos.map((r) =>
        limit(async () => {
          // Artifacts pages are thrown away; only their count matters.
          await all(paths.artifacts(p.name, r.name.slice(p.name.length + 1)), { with_tag: 'true', with_immutable_status: 'true' });
        }),
      ),
    );
  }
  (http.defaults.httpAgent as { destroy(): void }).destroy();
}

async function oci(target: OciTargetConfig): Promise<void> {
  const concurrency = CONCURRENCY.oci;
  const http = createHttpClient({ maxSockets: concurrency + 2 });
  const origin = new URL(new URL(target.url).origin);
  const client = new RegistryClient({ http, registryUrl: origin, concurrency, logger: pino({ level: 'silent' }) });
  const api = new RegistryApi(client, origin, 100);
  const signal = new AbortController().signal;
  const names: string[] = [];
  for await (const page of api.catalog(signal)) names.push(...page);
  const limit = pLimit(concurrency);
  await Promise.all(
    names.map((name) =>
      limit(async () => {
        const tags = await api.tags(name, signal);
        await Promise.all(tags.map((tag) => api.manifest(name, tag, signal)));
      }),
    ),
  );
  (http.defaults.httpAgent as { destroy(): void }).destroy();
}
