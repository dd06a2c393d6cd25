/**
 * A loopback stand-in for Google Artifact Registry's gRPC API
 * (`google.devtools.artifactregistry.v1.ArtifactRegistry`), built from the `.proto` files shipped
 * with `@google-cloud/artifact-registry`, so the real `ArtifactRegistryClient` talks to it unchanged:
 *
 *   new ArtifactRegistryClient({ apiEndpoint: '127.0.0.1', port, sslCreds: credentials.createInsecure(),
 *                                authClient: new PassThroughClient() })
 *
 * or, for a tagledger target, `endpoint: <emulator.endpoint>`. Plaintext by default; pass `tls` for
 * an https:// endpoint. Authorization headers are not required and not checked (their presence is
 * recorded per call).
 */
import { Server, ServerCredentials, type status as GrpcStatus } from '@grpc/grpc-js';
import { GarEstate, type CreateGarRepositoryOptions, type PushGarImageOptions } from './estate.js';
import { GarFaultInjector, type GarEmulatorCall, type GarMethod } from './faults.js';
import { PageTokens } from './page-token.js';
import { artifactRegistryHandlers, RequestQuota, type GarServiceContext } from './service.js';
import { artifactRegistryService } from './protos.js';

export { GarEstate, GarEmulatorError, digestOf } from './estate.js';
export type { CreateGarRepositoryOptions, EmulatedDockerImage, EmulatedGarRepository, GarCleanupPolicyInput, GarFormat, GarMode, PushGarImageOptions } from './estate.js';
export { GarFaultInjector } from './faults.js';
export type { GarEmulatorCall, GarFault, GarMethod } from './faults.js';

/** A repository to create at start, with images to push into it. */
export interface GarRepositorySeed extends CreateGarRepositoryOptions {
  location: string;
  repository: string;
  images?: Array<{ image: string } & PushGarImageOptions>;
}

export interface GarEmulatorOptions {
  host?: string;
  /** 0 (the default): an ephemeral port. */
  port?: number;
  /** The one project the emulator holds; any other answers PERMISSION_DENIED (default `demo-project`). */
  project?: string;
  repositories?: GarRepositorySeed[];
  /** Page size when a request sets none (default 100; Google does not document its own). */
  defaultPageSize?: number;
  /** Requests a minute per project and region before RESOURCE_EXHAUSTED (default 60,000, Google's quota). */
  requestsPerMinute?: number;
  /** Serve TLS (an https:// endpoint) with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface GarEmulator {
  /** `http://127.0.0.1:<port>` (or https:// with `tls`): a target's `endpoint`. */
  endpoint: string;
  url: string;
  host: string;
  port: number;
  project: string;
  /** The control API: repositories, pushes, tag moves, deletes, settings, denials. */
  estate: GarEstate;
  faults: GarFaultInjector;
  /** Every call received, in order. */
  calls: GarEmulatorCall[];
  callCount(method: GarMethod, resource?: string): number;
  /** Shorthand for a fault answering `times` matching calls with `code`. */
  failNext(method: GarMethod, code: GrpcStatus, opts?: { times?: number; resource?: string | RegExp; pagesAfterFirst?: boolean; message?: string }): void;
  /** Runs `fn` once, just before the next matching call is answered (e.g. move a tag between two pages of a listing). */
  beforeAnswer(method: GarMethod, fn: (call: GarEmulatorCall) => void, opts?: { pagesAfterFirst?: boolean }): void;
  close(): Promise<void>;
}

export async function startGarEmulator(opts: GarEmulatorOptions = {}): Promise<GarEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const project = opts.project ?? 'demo-project';
  const estate = new GarEstate(project);
  const faults = new GarFaultInjector();
  const calls: GarEmulatorCall[] = [];
  const hooks: GarServiceContext['hooks'] = [];
  for (const seed of opts.repositories ?? []) {
    const { location, repository, images, ...options } = seed;
    estate.createRepository(location, repository, options);
    for (const { image, ...push } of images ?? []) estate.pushImage(location, repository, image, push);
  }

  const server = new Server();
  server.addService(
    artifactRegistryService(),
    artifactRegistryHandlers({
      estate,
      tokens: new PageTokens(),
      faults,
      calls,
      quota: new RequestQuota(opts.requestsPerMinute ?? 60_000),
      defaultPageSize: opts.defaultPageSize ?? 100,
      hooks,
    }),
  );
  const credentials = opts.tls
    ? ServerCredentials.createSsl(null, [{ private_key: Buffer.from(opts.tls.key), cert_chain: Buffer.from(opts.tls.cert) }], false)
    : ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  const endpoint = `${opts.tls ? 'https' : 'http'}://${host}:${port}`;

  return {
    endpoint,
    url: endpoint,
    host,
    port,
    project,
    estate,
    faults,
    calls,
    callCount: (method, resource) => calls.filter((c) => c.method === method && (resource === undefined || c.resource === resource)).length,
    failNext(method, code, f = {}) {
      faults.add({ method, code, times: f.times ?? 1, resource: f.resource, pagesAfterFirst: f.pagesAfterFirst, message: f.message });
    },
    beforeAnswer(method, fn, o = {}) {
      hooks.push({ method, fn, pagesAfterFirst: o.pagesAfterFirst });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Calls still open (a client that went away mid-call) must not hold the shutdown.
        setTimeout(() => server.forceShutdown(), 1000).unref();
      }),
  };
}
