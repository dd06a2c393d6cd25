import { z } from 'zod';
import { baseTargetFields } from '../../config/common.js';
import { pushEventsSchema } from '../../events/config.js';

/**
 * Google Cloud project IDs: 6–30 lowercase letters, digits and hyphens, starting with a letter; a
 * domain-scoped project is prefixed with its domain and a colon (`example.com:my-project`).
 * https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin
 * https://cloud.google.com/artifact-registry/docs/docker/names#domain
 */
const projectIdSchema = z
  .string()
  .regex(/^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a Google Cloud project ID such as "acme-prod" (or "example.com:acme-prod")');

/** Regions (`europe-west1`) and multi-regions (`us`, `europe`, `asia`). */
const locationSchema = z.string().regex(/^[a-z][a-z0-9-]*[a-z0-9]$/, 'must be an Artifact Registry location such as "us" or "europe-west1"');

/**
 * The gRPC endpoint to talk to instead of Google's: `http://host:port` is plaintext gRPC (emulators),
 * `https://host[:port]` is TLS. Only scheme, host and port mean something to gRPC.
 */
const endpointSchema = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a URL such as http://127.0.0.1:8443 (plaintext gRPC) or https://host:443 (TLS)' });
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'must start with http:// (plaintext gRPC) or https:// (TLS)' });
  }
  if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) {
    ctx.addIssue({ code: 'custom', message: 'must be scheme://host[:port] only (gRPC endpoints have no path)' });
  }
});

export const garTargetSchema = z
  .object({
    ...baseTargetFields,
    kind: z.literal('gar'),
    /** Push events from the registry (`serve` scans the repository that changed right away). */
    events: pushEventsSchema.optional(),
    project: projectIdSchema,
    locations: z
      .array(locationSchema)
      .min(1)
      .refine((l) => new Set(l).size === l.length, 'must not list a location twice'),
    /** A service-account key file; Application Default Credentials when absent. */
    keyFile: z.string().min(1).optional(),
    endpoint: endpointSchema.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const scheme = t.endpoint ? new URL(t.endpoint).protocol : null;
    if (scheme === 'http:') {
      // Plaintext gRPC is for emulators: grpc-js refuses to send call credentials over it anyway.
      if (t.keyFile) ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'cannot be used with a plaintext http:// endpoint (credentials are never sent unencrypted)' });
      if (t.caFile) ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'applies to an https:// endpoint only' });
      if (t.insecureSkipTlsVerify) ctx.addIssue({ code: 'custom', path: ['insecureSkipTlsVerify'], message: 'applies to an https:// endpoint only' });
    }
    if (scheme !== 'http:' && (t.caFile || t.insecureSkipTlsVerify)) {
      // Custom TLS settings replace the channel credentials the Google client would build, and with
      // them its per-call authentication: only offered where no Google authentication is wanted.
      const path = t.caFile ? 'caFile' : 'insecureSkipTlsVerify';
      if (!t.endpoint) ctx.addIssue({ code: 'custom', path: [path], message: 'applies to an https:// endpoint only (Google\'s own endpoint uses the system trust store)' });
      else if (t.keyFile) ctx.addIssue({ code: 'custom', path: [path], message: 'cannot be combined with keyFile (an https:// endpoint with keyFile uses the system trust store)' });
    }
  });

export type GarTargetConfig = z.infer<typeof garTargetSchema>;
