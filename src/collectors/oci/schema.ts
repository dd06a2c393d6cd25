/**
 * What tagledger reads from an OCI registry, declared field by field (only the fields it reads).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 * https://distribution.github.io/distribution/spec/api/
 */
import { z } from 'zod';
import { MalformedResponseError } from './errors.js';

/** `GET /v2/_catalog` (Docker registry API; not part of the OCI spec). */
export const CatalogPage = z.object({
  repositories: z.array(z.string().min(1)).nullable(),
});

/** `GET /v2/<name>/tags/list`. The reference registry answers `"tags": null` once every tag is deleted. */
export const TagsPage = z.object({
  tags: z.array(z.string().min(1)).nullable(),
});

/** The spec's error body; the code is all a client may act on. */
export const RegistryErrors = z.object({
  errors: z.array(z.object({ code: z.string(), message: z.string().optional() })).min(1),
});
export type RegistryErrors = z.infer<typeof RegistryErrors>;

/**
 * A token endpoint's answer (https://distribution.github.io/distribution/spec/auth/token/#token-response-fields):
 * `token`, or OAuth 2's `access_token`, and `expires_in` seconds (60 when absent).
 */
export const TokenResponse = z
  .object({
    token: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    expires_in: z.number().positive().optional(),
  })
  .refine((t) => t.token !== undefined || t.access_token !== undefined, { message: 'neither "token" nor "access_token" is present' });

/** Just enough of a manifest to learn its media type when the response has no Content-Type. */
export const ManifestMediaTypeField = z.object({ mediaType: z.string().optional() });

/** `algorithm ":" encoded` (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests). */
export const Digest = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'not a digest (algorithm:encoded)');

/**
 * Parses and validates a JSON body; the error names where it came from (`what`) and what is wrong,
 * never the body itself (a token response body is a secret).
 */
export function parseJson<S extends z.ZodType>(schema: S, body: string, what: string): z.infer<S> {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new MalformedResponseError(`${what}: response is not valid JSON (${err instanceof SyntaxError ? err.message : String(err)})`);
  }
  const result = schema.safeParse(doc);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
      .join('; ');
    throw new MalformedResponseError(`${what}: unexpected response shape (${issues})`);
  }
  return result.data;
}

/** The first error of a spec error body (`{"errors":[{"code","message"}]}`), or undefined when the body is not one. */
export function registryError(body: string | Buffer | undefined): { code: string; message?: string } | undefined {
  if (body === undefined || body.length === 0) return undefined;
  try {
    const parsed = RegistryErrors.safeParse(JSON.parse(body.toString()));
    return parsed.success ? parsed.data.errors[0] : undefined;
  } catch {
    return undefined;
  }
}

/** `CODE: message` of the first error in a spec error body, or undefined. */
export function registryErrorSummary(body: string | Buffer | undefined): string | undefined {
  const first = registryError(body);
  if (!first) return undefined;
  return first.message ? `${first.code}: ${first.message.slice(0, 200)}` : first.code;
}
