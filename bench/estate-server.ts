/**
 * The registry side of the benchmark, in a process of its own (forked by bench/run.ts): starts the
 * emulators an estate needs on loopback, fills them, and answers the runner over IPC:
 *
 *   { op: 'requests' }          requests each emulator received so far, and this process's CPU time
 *   { op: 'expected' }          the requests a complete scan needs, computed from the estate as it is now
 *   { op: 'mutate', ... }       moves and deletes a fraction of the tags, as pushes and deletes would
 *   { op: 'dump', dir }         writes the estate's rows as COPY files, for the write floor
 *   { op: 'close' }
 *
 * Scanning in another process keeps the emulators' own CPU and memory out of the scanner's figures.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { startEcrEmulator, type EcrEmulator } from '../src/emulators/ecr/index.js';
import { startGarEmulator, type GarEmulator } from '../src/emulators/gar/index.js';
import { startHarborEmulator, type HarborEmulator } from '../src/emulators/harbor/index.js';
import { startOciEmulator, type OciEmulator } from '../src/emulators/oci/index.js';
import { protectionFor, type ProtectionSettings } from '../src/audit/protection.js';
import {
  buildEcr,
  buildGar,
  buildHarbor,
  buildOci,
  ecrRepositoryName,
  garPlace,
  garLocations,
  harborRepositoryName,
  hex64,
  ociRepositoryName,
  prng,
  tagName,
  type EstatePlan,
  type Kind,
  type TargetPlan,
} from './estates.js';

export type ServerRequest =
  | { op: 'requests' }
  | { op: 'expected' }
  | { op: 'mutate'; moved: number; deleted: number; seed: number }
  | { op: 'dump'; dir: string }
  | { op: 'close' };

export interface TargetEndpoint {
  kind: Kind;
  id: string;
  /** A tagledger target config for it. */
  config: Record<string, unknown>;
}

const GAR_PROJECT = 'bench-project';
const HARBOR_ACCOUNT = { username: 'robot$bench', password: 'bench-secret' };

interface Running {
  plan: TargetPlan;
  ecr?: EcrEmulator;
  gar?: GarEmulator;
  harbor?: HarborEmulator;
  oci?: OciEmulator;
  /** Current tags per repository index (tag index → present), for choosing changes. */
  present: Array<Set<number>>;
  /** Changes made so far, so that moved tags get new digests each time. */
  generation: number;
}

async function start(plan: EstatePlan): Promise<Running[]> {
  const out: Running[] = [];
  for (const t of plan.targets) {
    const r: Running = { plan: t, present: Array.from({ length: t.repositories }, () => new Set(Array.from({ length: t.tagsPerRepository }, (_, i) => i))), generation: 0 };
    if (t.kind === 'ecr') {
      r.ecr = await startEcrEmulator();
      buildEcr(r.ecr.estate, t);
    } else if (t.kind === 'gar') {
      r.gar = await startGarEmulator({ project: GAR_PROJECT });
      buildGar(r.gar.estate, t);
    } else if (t.kind === 'harbor') {
      r.harbor = await startHarborEmulator({ accounts: [HARBOR_ACCOUNT] });
      buildHarbor(r.harbor.estate, t);
    } else {
      r.oci = await startOciEmulator();
      buildOci(r.oci.estate, t);
    }
    out.push(r);
  }
  return out;
}

function endpoint(r: Running): TargetEndpoint {
  const { id, kind } = r.plan;
  const base = { id, kind, insecureSkipTlsVerify: false };
  if (r.ecr) return { id, kind, config: { ...base, region: 'us-east-1', endpoint: r.ecr.url } };
  if (r.gar) return { id, kind, config: { ...base, project: GAR_PROJECT, locations: garLocations, endpoint: r.gar.endpoint } };
  if (r.harbor) return { id, kind, config: { ...base, url: r.harbor.url, ...HARBOR_ACCOUNT } };
  return { id, kind, config: { ...base, url: r.oci!.url } };
}

function requestCount(r: Running): number {
  if (r.ecr) return r.ecr.calls.length;
  if (r.gar) return r.gar.calls.length;
  if (r.harbor) return r.harbor.faults.requests.length;
  return r.oci!.faults.requests.length;
}

const pages = (items: number, size: number) => Math.max(1, Math.ceil(items / size));

/**
 * What a complete scan must ask for, from the collectors' page sizes (ECR and GAR 1,000, Harbor 100,
 * OCI 100 by default) and the estate's current content.
 */
function expected(r: Running): number {
  if (r.ecr) {
    const repos = r.ecr.estate.repositories();
    return pages(repos.length, 1000) + repos.reduce((n, repo) => n + pages([...repo.images.values()].filter((i) => i.tags.length > 0).length, 1000), 0);
  }
  if (r.gar) {
    let n = 0;
    for (const location of garLocations) {
      const repos = r.gar.estate.repositoriesIn(location);
      n += pages(repos.length, 1000);
      for (const repo of repos) n += pages(r.gar.estate.listedImages(repo).length, 1000);
    }
    return n;
  }
  if (r.harbor) {
    const e = r.harbor.estate;
    let n = pages(e.projects.size, 100);
    for (const p of e.projects.values()) {
      const repos = e.repositoriesOf(p.id);
      n += pages(e.rules.get(p.id)!.length, 100) + pages(repos.length, 100);
      for (const repo of repos) n += pages(e.artifacts.get(repo.id)!.length, 100);
    }
    return n;
  }
  const e = r.oci!.estate;
  const repos = e.repositories();
  let n = pages(repos.length, 100); // the catalog (no version check needed when it answers)
  for (const name of repos) {
    const tags = e.tags(name)!.length;
    n += pages(tags, 100) + tags; // tags/list pages, one HEAD per tag
  }
  return n;
}

/**
 * Moves `moved` and deletes `deleted` (fractions of all tags) among the tags the registry lets
 * change: Harbor refuses to touch immutable tags and GAR every tag of an immutable repository, so
 * those are not chosen; ECR's protected tags are deleted and pushed again, which ECR allows.
 */
function mutate(r: Running, movedFraction: number, deletedFraction: number, seed: number): { moved: number; deleted: number } {
  const t = r.plan;
  const total = t.repositories * t.tagsPerRepository;
  const random = prng(seed);
  const movable = (repo: number, i: number): boolean => {
    if (r.gar) return Math.floor(repo / 5) % 2 === 0;
    if (r.harbor) return !tagName(repo, i).startsWith('1.');
    return true;
  };
  const want = { moved: Math.round(total * movedFraction), deleted: Math.round(total * deletedFraction) };
  const done = { moved: 0, deleted: 0 };
  const gen = ++r.generation;
  const touched = new Set<number>();
  let guard = 0;
  for (const what of ['moved', 'deleted'] as const) {
    while (done[what] < want[what] && guard++ < total * 50) {
      const repo = Math.floor(random() * t.repositories);
      const i = Math.floor(random() * t.tagsPerRepository);
      const key = repo * t.tagsPerRepository + i;
      // Each tag changes at most once per round, and a deleted tag stays deleted.
      if (touched.has(key) || !r.present[repo].has(i) || !movable(repo, i)) continue;
      touched.add(key);
      if (what === 'deleted') r.present[repo].delete(i);
      apply(r, repo, tagName(repo, i), what, gen);
      done[what]++;
    }
  }
  return done;
}

function apply(r: Running, repo: number, tag: string, what: 'moved' | 'deleted', gen: number): void {
  const content = `${tag}#${what}#${gen}`;
  if (r.ecr) {
    const name = ecrRepositoryName(repo);
    r.ecr.estate.deleteTag(name, tag);
    if (what === 'moved') r.ecr.estate.pushImage(name, { tag, content: `${name}:${content}` });
  } else if (r.gar) {
    const { location, repository, image } = garPlace(repo);
    const digest = r.gar.estate.tagsOf(location, repository, image).get(tag)!;
    r.gar.estate.deleteImage(location, repository, image, digest);
    if (what === 'moved') r.gar.estate.pushImage(location, repository, image, { tags: [tag], content: `${repository}/${image}:${content}` });
  } else if (r.harbor) {
    const name = harborRepositoryName(repo);
    if (what === 'moved') r.harbor.estate.push(name, tag, { digest: `sha256:${hex64(`${name}:${content}`)}` });
    else r.harbor.estate.deleteTag(name, tag);
  } else {
    const name = ociRepositoryName(repo);
    if (what === 'moved') r.oci!.estate.moveTag(name, tag, { content: `${name}:${content}` });
    else r.oci!.estate.deleteTag(name, tag);
  }
}

/** COPY text format: backslash, tab and newlines escaped; `\N` is null. */
function field(v: string | number | boolean | null): string {
  if (v === null) return '\\N';
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

interface DumpRow {
  tag: string;
  digest: string;
  mediaType: string | null;
  pushedAt: Date | null;
  extra: Record<string, unknown> | null;
}

function rowsOf(r: Running, repo: number): { name: string; protection: ProtectionSettings; rows: DumpRow[] } {
  if (r.ecr) {
    const name = ecrRepositoryName(repo);
    const e = r.ecr.estate.repository(name);
    const rows: DumpRow[] = [];
    for (const img of e.images.values()) {
      for (const tag of img.tags) {
        rows.push({ tag, digest: img.digest, mediaType: img.manifestMediaType, pushedAt: img.pushedAt, extra: { imageStatus: img.status, imageSizeInBytes: img.sizeInBytes, artifactMediaType: img.artifactMediaType } });
      }
    }
    return { name, protection: { kind: 'ecr', mode: e.mutability, filters: e.filters }, rows };
  }
  if (r.gar) {
    const { location, repository, image } = garPlace(repo);
    const g = r.gar.estate.repository(location, repository);
    const rows: DumpRow[] = [];
    for (const v of r.gar.estate.listedImages(g)) {
      if (v.image !== image) continue;
      for (const tag of v.tags) {
        rows.push({ tag, digest: v.digest, mediaType: v.mediaType, pushedAt: v.uploadTime, extra: { uploadTime: v.uploadTime.toISOString(), buildTime: v.buildTime?.toISOString() ?? null, updateTime: v.updateTime.toISOString(), imageSizeBytes: v.imageSizeBytes } });
      }
    }
    return { name: `${location}/${repository}/${image}`, protection: { kind: 'gar', immutableTags: g.dockerConfig?.immutableTags === true }, rows };
  }
  if (r.harbor) {
    const name = harborRepositoryName(repo);
    const e = r.harbor.estate;
    const h = e.repository(name)!;
    const rows: DumpRow[] = [];
    for (const a of e.artifactsOf(h.id)) {
      for (const t of e.tagsOf(a)) rows.push({ tag: t.name, digest: a.digest, mediaType: a.manifestMediaType, pushedAt: t.pushTime, extra: { immutable: e.isImmutable(name, t.name), artifactType: 'IMAGE', size: a.size } });
    }
    return { name, protection: { kind: 'unknown' }, rows };
  }
  const name = ociRepositoryName(repo);
  const e = r.oci!.estate;
  const rows: DumpRow[] = [...e.tagDigests(name)].map(([tag, digest]) => ({ tag, digest, mediaType: e.manifest(name, digest)?.mediaType ?? null, pushedAt: null, extra: null }));
  return { name, protection: { kind: 'unknown' }, rows };
}

/**
 * The estate's rows as the write floor loads them: `repositories.tsv` (target, name), `tags.tsv`
 * and `events.tsv` (one `created` event per tag, with a hash of the chain's width), referring to
 * repositories by their position (1, 2, …: the ids a fresh table gives them in that order).
 */
async function dump(running: Running[], dir: string): Promise<{ repositories: number; tags: number }> {
  mkdirSync(dir, { recursive: true });
  const repos = createWriteStream(join(dir, 'repositories.tsv'));
  const tags = createWriteStream(join(dir, 'tags.tsv'));
  const events = createWriteStream(join(dir, 'events.tsv'));
  const write = async (s: NodeJS.WritableStream, line: string) => {
    if (!s.write(line)) await once(s, 'drain');
  };
  const at = new Date().toISOString();
  let id = 0;
  let n = 0;
  for (const r of running) {
    for (let repo = 0; repo < r.plan.repositories; repo++) {
      const { name, protection, rows } = rowsOf(r, repo);
      id++;
      await write(repos, `${field(r.plan.id)}\t${field(name)}\t${field(`registry.example/${name}`)}\t${at}\t${field(JSON.stringify(protection))}\n`);
      let seq = 0;
      let buf = '';
      let ev = '';
      for (const row of rows) {
        const v = protectionFor(protection, row.tag);
        buf += `${id}\t${field(row.tag)}\t${field(row.digest)}\t${field(row.mediaType)}\t${field(row.pushedAt?.toISOString() ?? null)}\t${at}\t${at}\tt\t${v.protected ? 't' : 'f'}\t${field(v.reason)}\t${field(row.extra ? JSON.stringify(row.extra) : null)}\n`;
        ev += `${id}\t${field(row.tag)}\tcreated\t${field(row.digest)}\t\\N\t${v.protected ? 't' : 'f'}\t${field(v.reason)}\t${at}\t1\t${++seq}\t${hex64(`${id}:${seq}`)}\n`;
        n++;
      }
      await write(tags, buf);
      await write(events, ev);
    }
  }
  for (const s of [repos, tags, events]) {
    s.end();
    await once(s, 'finish');
  }
  return { repositories: id, tags: n };
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2]) as EstatePlan;
  const running = await start(plan);
  const send = (m: unknown) => process.send!(m);
  process.on('message', (m: ServerRequest) => {
    void (async () => {
      try {
        switch (m.op) {
          case 'requests':
            return send({ ok: true, requests: Object.fromEntries(running.map((r) => [r.plan.id, requestCount(r)])), cpu: process.cpuUsage() });
          case 'expected':
            return send({ ok: true, expected: Object.fromEntries(running.map((r) => [r.plan.id, expected(r)])) });
          case 'mutate':
            return send({ ok: true, changes: Object.fromEntries(running.map((r, i) => [r.plan.id, mutate(r, m.moved, m.deleted, m.seed + i)])) });
          case 'dump':
            return send({ ok: true, ...(await dump(running, m.dir)) });
          case 'close':
            await Promise.all(running.map((r) => (r.ecr ?? r.gar ?? r.harbor ?? r.oci)!.close()));
            send({ ok: true });
            process.exit(0);
        }
      } catch (err) {
        send({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
      }
    })();
  });
  send({ ok: true, ready: true, targets: running.map(endpoint) });
}

void main().catch((err: unknown) => {
  process.send?.({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exit(1);
});
