/**
 * The reference registry (CNCF distribution, packaged by Debian as `docker-registry`) run as a child
 * process for integration tests: loopback only, a free port, filesystem storage in a temporary
 * directory, deletes enabled. Plus a small pusher that uploads real blobs and manifests over HTTP.
 *
 * The binary is found via DOCKER_REGISTRY_BIN or `docker-registry` on PATH. When it is missing a
 * developer's test run skips the tests that need it (and says so); with CI=true it is an error.
 * https://distribution.github.io/distribution/about/configuration/
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export type PushMediaType = typeof OCI_MANIFEST | typeof OCI_INDEX | typeof DOCKER_MANIFEST | typeof DOCKER_MANIFEST_LIST;

/** The registry binary, or null when there is none. */
export function findDockerRegistry(): string | null {
  const candidates = process.env.DOCKER_REGISTRY_BIN
    ? [process.env.DOCKER_REGISTRY_BIN]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'docker-registry'));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not this one
    }
  }
  return null;
}

/**
 * The binary for a test file, or null (after saying why) when the file's tests must be skipped.
 * In CI a missing registry fails the run instead of silently testing less.
 */
export function dockerRegistryForTests(): string | null {
  const binary = findDockerRegistry();
  if (binary) return binary;
  const why = 'the reference registry binary `docker-registry` was not found (install Debian/Ubuntu package docker-registry, or set DOCKER_REGISTRY_BIN)';
  if (process.env.CI === 'true') throw new Error(`${why}; it is required when CI=true`);
  console.warn(`SKIPPING real-registry tests: ${why}`);
  return null;
}

export interface DockerRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  pusher: RegistryPusher;
  stop(): Promise<void>;
}

export interface DockerRegistryOptions {
  binary?: string;
  /** `catalog.maxentries`: the largest catalog page (default 1000). */
  catalogMaxEntries?: number;
}

export async function startDockerRegistry(opts: DockerRegistryOptions = {}): Promise<DockerRegistry> {
  const binary = opts.binary ?? findDockerRegistry();
  if (!binary) throw new Error('docker-registry binary not found');
  let lastError: unknown;
  // The free port is found, released, then taken by the registry; retry the rare race.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'tagledger-registry-'));
    const port = await freePort();
    const config = {
      version: 0.1,
      log: { level: 'error', accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: join(dir, 'data') },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
      ...(opts.catalogMaxEntries ? { catalog: { maxentries: opts.catalogMaxEntries } } : {}),
    };
    // YAML is a superset of JSON.
    writeFileSync(join(dir, 'config.yml'), JSON.stringify(config, null, 2));
    const child = spawn(binary, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilServing(url, child, () => stderr);
      return { url, port, pusher: new RegistryPusher(url), stop: () => stop(child, dir) };
    } catch (err) {
      lastError = err;
      await stop(child, dir);
    }
  }
  throw lastError;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before serving: ${stderr().trim()}`);
    }
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer ${url}/v2/ within 15 s: ${stderr().trim()}`);
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

export interface PushedManifest {
  repository: string;
  tag: string | null;
  digest: string;
  mediaType: PushMediaType;
  bytes: Buffer;
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Pushes real content with the distribution API (monolithic blob uploads, manifest PUTs) and deletes manifests. */
export class RegistryPusher {
  constructor(private readonly url: string) {}

  /** POST an upload, then PUT the whole blob to its Location with `?digest=` (a monolithic upload). */
  async uploadBlob(repository: string, content: Buffer | string): Promise<{ digest: string; size: number }> {
    const bytes = Buffer.from(content);
    const digest = sha256(bytes);
    const start = await fetch(`${this.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    await expectStatus(start, 202, `POST blob upload to ${repository}`);
    const location = new URL(start.headers.get('location')!, this.url);
    location.searchParams.set('digest', digest);
    const put = await fetch(location, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
    await expectStatus(put, 201, `PUT blob ${digest} to ${repository}`);
    return { digest, size: bytes.length };
  }

  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: PushMediaType): Promise<PushedManifest> {
    const res = await fetch(`${this.url}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: bytes });
    await expectStatus(res, 201, `PUT manifest ${repository}:${reference}`);
    const digest = sha256(bytes);
    const served = res.headers.get('docker-content-digest');
    if (served !== digest) throw new Error(`registry reports digest ${served} for ${repository}:${reference}, expected ${digest}`);
    return { repository, tag: reference.includes(':') ? null : reference, digest, mediaType, bytes };
  }

  /** Pushes an image (blobs, child manifests for an index) and tags it. `content` decides the digest. */
  async pushImage(repository: string, tag: string, opts: { mediaType?: PushMediaType; content?: string } = {}): Promise<PushedManifest> {
    const mediaType = opts.mediaType ?? OCI_MANIFEST;
    const content = opts.content ?? randomBytes(8).toString('hex');
    if (mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST) {
      const childType = mediaType === OCI_INDEX ? OCI_MANIFEST : DOCKER_MANIFEST;
      const platforms = [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ];
      const manifests = [];
      for (const platform of platforms) {
        const bytes = await this.imageManifestBytes(repository, childType, `${content}/${platform.architecture}`, platform);
        const child = await this.putManifest(repository, sha256(bytes), bytes, childType);
        manifests.push({ mediaType: childType, digest: child.digest, size: bytes.length, platform });
      }
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
      return this.putManifest(repository, tag, bytes, mediaType);
    }
    const bytes = await this.imageManifestBytes(repository, mediaType, content, { os: 'linux', architecture: 'amd64' });
    return this.putManifest(repository, tag, bytes, mediaType);
  }

  /** DELETE /v2/<name>/manifests/<digest>: registry 2.8 deletes by digest only, untagging every tag on it. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    const res = await fetch(`${this.url}/v2/${repository}/manifests/${digest}`, { method: 'DELETE' });
    await expectStatus(res, 202, `DELETE manifest ${repository}@${digest}`);
  }

  private async imageManifestBytes(repository: string, mediaType: PushMediaType, content: string, platform: { os: string; architecture: string }): Promise<Buffer> {
    const oci = mediaType === OCI_MANIFEST;
    const configDoc = JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [sha256(content)] }, config: { Labels: { content } } });
    const config = await this.uploadBlob(repository, configDoc);
    const layer = await this.uploadBlob(repository, `layer ${content}`);
    return Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType,
          config: { mediaType: oci ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', ...config },
          layers: [{ mediaType: oci ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...layer }],
        },
        null,
        2,
      ),
    );
  }
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}
