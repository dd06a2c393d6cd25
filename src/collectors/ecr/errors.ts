/**
 * Turning AWS SDK errors into the collector's error codes and into messages safe to store.
 *
 * The SDK does not export a class for every error ECR can send (ThrottlingException and
 * AccessDeniedException among them), so errors are told apart by `name`, which the SDK sets from
 * the response's `__type` / `x-amzn-ErrorType`.
 */
import type { RepositoryErrorCode } from '../types.js';

interface AwsErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Errors that say "these credentials may not do this", at any level. */
const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'CredentialsProviderError',
  'RegionDisabledException',
]);

export function awsErrorName(err: unknown): string {
  return (err as AwsErrorLike | null)?.name ?? 'Error';
}

/** A repository listed but gone when its images were read. */
export function isRepositoryGone(err: unknown): boolean {
  return awsErrorName(err) === 'RepositoryNotFoundException';
}

/** Per repository: only an explicit access denial is `denied`; anything else could not be read. */
export function repositoryErrorCode(err: unknown): RepositoryErrorCode {
  const name = awsErrorName(err);
  if (name === 'RepositoryNotFoundException') return 'vanished';
  return name === 'AccessDeniedException' || name === 'AccessDenied' ? 'denied' : 'failed';
}

/** For the whole target (credentials, STS, listing): authentication problems are `denied`. */
export function targetErrorCode(err: unknown): RepositoryErrorCode {
  return AUTH_ERRORS.has(awsErrorName(err)) ? 'denied' : 'failed';
}

export function isAbort(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted || awsErrorName(err) === 'AbortError';
}

/**
 * `ECR DescribeImages for repository "x": ThrottlingException: Rate exceeded (HTTP 400, 5 attempts)`.
 * Only the first sentence-ish line of the vendor message is kept: signature errors echo the
 * canonical request, which may carry a session token.
 */
export function describeAwsError(operation: string, repository: string | null, err: unknown): string {
  const e = (err ?? {}) as AwsErrorLike;
  const where = repository === null ? `ECR ${operation}` : `ECR ${operation} for repository "${repository}"`;
  const facts: string[] = [];
  if (e.$metadata?.httpStatusCode) facts.push(`HTTP ${e.$metadata.httpStatusCode}`);
  if (e.$metadata?.attempts && e.$metadata.attempts > 1) facts.push(`${e.$metadata.attempts} attempts`);
  return `${where}: ${awsErrorName(err)}: ${safeMessage(e.message)}${facts.length ? ` (${facts.join(', ')})` : ''}`;
}

export function safeMessage(message: string | undefined): string {
  if (!message) return 'no message';
  let m = message.split('\n')[0];
  const cut = m.search(/The Canonical String|The String-to-Sign|X-Amz-Security-Token|Authorization=/i);
  if (cut >= 0) m = m.slice(0, cut).trim();
  return m.length > 400 ? `${m.slice(0, 400)}…` : m;
}
