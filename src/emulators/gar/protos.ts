/**
 * The Artifact Registry v1 gRPC service definition, loaded from the `.proto` files that ship inside
 * `@google-cloud/artifact-registry` (`build/protos/`), so the emulator speaks exactly the wire format
 * of the client version installed. The `google/api`, `google/iam` and `google/longrunning` imports
 * come from the protos bundled with google-gax, the client's own transport.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadPackageDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

let cached: ServiceDefinition | null = null;

export function artifactRegistryService(): ServiceDefinition {
  if (cached) return cached;
  const clientDir = path.dirname(require.resolve('@google-cloud/artifact-registry/package.json'));
  // google-gax's package exports do not expose its protos directory; its main entry is
  // build/src/index.js, two levels below build/.
  const gaxMain = require.resolve('google-gax', { paths: [clientDir] });
  const gaxProtos = path.join(path.dirname(path.dirname(gaxMain)), 'protos');
  const definition = loadSync('google/devtools/artifactregistry/v1/service.proto', {
    includeDirs: [path.join(clientDir, 'build', 'protos'), gaxProtos],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(definition) as unknown as {
    google: { devtools: { artifactregistry: { v1: { ArtifactRegistry: { service: ServiceDefinition } } } } };
  };
  cached = pkg.google.devtools.artifactregistry.v1.ArtifactRegistry.service;
  return cached;
}
