/**
 * Errors of the OCI collector. Their messages are built here from the method, the URL without
 * credentials, the status and the registry's error codes: never from a raw axios error, its config
 * or its headers, so no credential or token can leak into a message.
 */

/** The registry answered with a status the caller cannot use (after retries, for 429/5xx). */
export class RegistryHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The first error code of the spec's error body, e.g. NAME_UNKNOWN, when there was one. */
    readonly registryCode: string | undefined,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }
}

/** No answer (connection refused/reset, timeout, TLS) after retries. */
export class RegistryTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistryTransportError';
  }
}

/** The answer was not what the API defines (bad JSON, wrong shape, bad header, pagination loop). */
export class MalformedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedResponseError';
  }
}

/** Getting a token from the registry's auth service failed. */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}
