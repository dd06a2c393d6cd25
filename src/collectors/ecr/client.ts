/**
 * Builds the ECR client for one target: region, endpoint override, credentials (the SDK default
 * chain, or an STS role on top of it), adaptive retries and hard request timeouts.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { ECRClient, type ECRClientConfig } from '@aws-sdk/client-ecr';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { parseDuration } from '../../config/common.js';
import type { EcrTargetConfig } from './config.js';

/** Knobs tests use; production leaves them unset. */
export interface EcrClientOverrides {
  /** Replaces the adaptive strategy, e.g. a `ConfiguredRetryStrategy` with no backoff delay. */
  retryStrategy?: ECRClientConfig['retryStrategy'];
}

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_ROLE_SESSION_NAME = 'tagledger';

export function createEcrClient(target: EcrTargetConfig, overrides: EcrClientOverrides = {}): ECRClient {
  const requestTimeout = target.requestTimeout ? parseDuration(target.requestTimeout) : DEFAULT_REQUEST_TIMEOUT_MS;
  const requestHandler = {
    requestTimeout,
    connectionTimeout: Math.min(requestTimeout, 10_000),
    // Without this the SDK only logs a breached requestTimeout and keeps waiting, possibly forever
    // (https://github.com/smithy-lang/smithy-typescript/blob/main/packages/types/src/http/httpHandlerInitialization.ts).
    throwOnRequestTimeout: true,
    ...(target.caFile || target.insecureSkipTlsVerify ? { httpsAgent: tlsAgent(target) } : {}),
  };
  const maxAttempts = target.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;

  const config: ECRClientConfig = {
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    // "adaptive" adds client-side rate limiting on top of the standard retries, backing off as
    // ECR answers ThrottlingException
    // (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
    retryMode: 'adaptive',
    maxAttempts,
    requestHandler,
    ...(overrides.retryStrategy ? { retryStrategy: overrides.retryStrategy } : {}),
  };
  if (target.assumeRole) {
    // Base credentials come from the default provider chain (env, shared config/SSO, web identity,
    // container or instance roles); STS AssumeRole turns them into the audit role's, refreshed
    // before they expire. The STS endpoint follows the SDK's usual configuration
    // (AWS_ENDPOINT_URL_STS, profiles), e.g. a VPC endpoint for STS.
    config.credentials = fromTemporaryCredentials({
      params: {
        RoleArn: target.assumeRole.roleArn,
        RoleSessionName: target.assumeRole.sessionName ?? DEFAULT_ROLE_SESSION_NAME,
        ...(target.assumeRole.externalId ? { ExternalId: target.assumeRole.externalId } : {}),
      },
      clientConfig: { region: target.region, maxAttempts, requestHandler: { requestTimeout, throwOnRequestTimeout: true } },
    });
  }
  const client = new ECRClient(config);
  client.middlewareStack.add(
    (next) => async (args) => {
      const started = Date.now();
      const out = await next(args);
      boundBody((out.response as { body?: unknown }).body, Math.max(1, requestTimeout - (Date.now() - started)), requestTimeout);
      return out;
    },
    // Inside the deserializer (which reads the body) and inside the retries: once per attempt.
    { step: 'deserialize', priority: 'low', name: 'tagledgerBodyDeadline' },
  );
  return client;
}

/**
 * The SDK's requestTimeout stops counting once the response headers are in; a service (or a proxy)
 * that then trickles the body would hold the call for ever. The rest of the body gets what is left
 * of requestTimeout; past it the stream fails with a TimeoutError, which the SDK retries as transient.
 * https://github.com/smithy-lang/smithy-typescript/blob/main/packages/node-http-handler/src/node-http-handler.ts
 */
function boundBody(body: unknown, remainingMs: number, requestTimeout: number): void {
  const stream = body as Readable | undefined;
  if (!stream || typeof stream.destroy !== 'function' || typeof stream.once !== 'function') return;
  const timer = setTimeout(() => {
    const err = new Error(`the response body did not arrive within requestTimeout (${requestTimeout} ms)`);
    err.name = 'TimeoutError';
    stream.destroy(err);
  }, remainingMs);
  timer.unref?.();
  const done = () => clearTimeout(timer);
  stream.once('end', done);
  stream.once('close', done);
  stream.once('error', done);
}

function tlsAgent(target: EcrTargetConfig): HttpsAgent {
  return new HttpsAgent({
    keepAlive: true,
    ...(target.caFile ? { ca: readFileSync(target.caFile) } : {}),
    rejectUnauthorized: !target.insecureSkipTlsVerify,
  });
}
