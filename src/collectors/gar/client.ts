/**
 * Builds the `ArtifactRegistryClient` (gRPC) for a target, choosing how it authenticates:
 *
 * - `endpoint` without `keyFile` (emulators, test doubles): no Google authentication at all. The
 *   client gets a `PassThroughClient` and explicit channel credentials, so google-auth-library never
 *   looks for Application Default Credentials and never probes the GCE metadata server
 *   (169.254.169.254), which it otherwise does even for a local endpoint.
 * - `keyFile`: that service-account key (`keyFilename`), against Google or an https:// endpoint.
 * - neither: Application Default Credentials, for a real run against Google.
 *
 * https://cloud.google.com/nodejs/docs/reference/artifact-registry/latest/artifact-registry/v1.artifactregistryclient
 * https://github.com/googleapis/google-auth-library-nodejs#application-default-credentials
 */
import { readFileSync } from 'node:fs';
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import { PassThroughClient } from 'google-auth-library';
import type { GarTargetConfig } from './config.js';

type ClientOptions = NonNullable<ConstructorParameters<typeof ArtifactRegistryClient>[0]>;

export interface GarConnection {
  /** What the client talks to, for messages: `artifactregistry.googleapis.com:443` or the endpoint. */
  address: string;
  options: ClientOptions;
}

export function garClientOptions(target: GarTargetConfig): GarConnection {
  if (!target.endpoint) {
    const options: ClientOptions = target.keyFile ? { keyFilename: target.keyFile } : {};
    return { address: 'artifactregistry.googleapis.com:443', options };
  }
  const url = new URL(target.endpoint);
  const tls = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  // IPv6 literals come back bracketed from URL; gRPC wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const address = `${url.hostname}:${port}`;
  if (tls && target.keyFile) {
    // A Google-compatible TLS endpoint (e.g. Private Service Connect) with a service account: the
    // client builds TLS + per-call credentials itself.
    return { address, options: { apiEndpoint: host, port, keyFilename: target.keyFile } };
  }
  return {
    address,
    options: {
      apiEndpoint: host,
      port,
      sslCreds: tls ? tlsCredentials(target) : credentials.createInsecure(),
      // Never asked for a token (the channel credentials above carry no call credentials), but its
      // presence stops google-auth-library from resolving Application Default Credentials, which
      // would probe the metadata server when the client asks for its universe domain. The cast:
      // google-gax bundles its own major version of google-auth-library, whose AuthClient type is
      // nominally different; the client only reads `universeDomain` from it.
      authClient: new PassThroughClient() as unknown as ClientOptions['authClient'],
    },
  };
}

function tlsCredentials(target: GarTargetConfig): ChannelCredentials {
  let ca: Buffer | null = null;
  if (target.caFile) {
    try {
      ca = readFileSync(target.caFile);
    } catch (err) {
      throw new Error(`cannot read caFile ${target.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return credentials.createSsl(ca, null, null, target.insecureSkipTlsVerify ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : undefined);
}

export function createArtifactRegistryClient(target: GarTargetConfig): { client: ArtifactRegistryClient; address: string } {
  const { address, options } = garClientOptions(target);
  return { client: new ArtifactRegistryClient(options), address };
}
