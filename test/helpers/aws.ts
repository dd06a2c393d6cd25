/**
 * Static AWS credentials for a test's ECR emulator (it checks SigV4 signatures, not who signed):
 * the SDK's default chain reads them from the environment. Undone by `vi.unstubAllEnvs()`.
 */
import { vi } from 'vitest';

export function stubAwsCredentials(accessKeyId: string, secretAccessKey: string): void {
  vi.stubEnv('AWS_ACCESS_KEY_ID', accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', '');
}
