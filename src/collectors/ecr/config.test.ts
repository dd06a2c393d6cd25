import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../config/schema.js';
import { ecrTargetSchema } from './config.js';

describe('ECR target configuration', () => {
  it('accepts the documented example through the configuration union', () => {
    const cfg = configSchema.parse(
      parseYaml(`
targets:
  - id: prod-ecr
    kind: ecr
    region: us-east-1
    registryId: "123456789012"
    repositories: ["payments/*"]
    assumeRole: { roleArn: "arn:aws:iam::123456789012:role/tagledger-audit", externalId: ext-123 }
    endpoint: http://127.0.0.1:4566
    maxAttempts: 6
    requestTimeout: 20s
`),
    );
    expect(cfg.targets[0]).toMatchObject({
      kind: 'ecr',
      region: 'us-east-1',
      registryId: '123456789012',
      assumeRole: { roleArn: 'arn:aws:iam::123456789012:role/tagledger-audit', externalId: 'ext-123' },
      endpoint: 'http://127.0.0.1:4566',
    });
  });

  it('needs only an id and a region', () => {
    expect(ecrTargetSchema.parse({ id: 'ecr-eu', kind: 'ecr', region: 'eu-central-1' })).toMatchObject({ region: 'eu-central-1', insecureSkipTlsVerify: false });
    expect(ecrTargetSchema.parse({ id: 'gov', kind: 'ecr', region: 'us-gov-west-1' }).region).toBe('us-gov-west-1');
  });

  it.each([
    ['an unquoted account id', { registryId: 123456789012 }, 'registryId'],
    ['an account id of the wrong length', { registryId: '12345' }, 'registryId'],
    ['a region that is not one', { region: 'virginia' }, 'region'],
    ['a role that is not an IAM role ARN', { assumeRole: { roleArn: 'tagledger-audit' } }, 'assumeRole.roleArn'],
    ['an unknown assumeRole key', { assumeRole: { roleArn: 'arn:aws:iam::123456789012:role/x', duration: 3600 } }, 'assumeRole'],
    ['a session name with spaces', { assumeRole: { roleArn: 'arn:aws:iam::123456789012:role/x', sessionName: 'my audit' } }, 'assumeRole.sessionName'],
    ['an endpoint that is not an http(s) URL', { endpoint: 'ecr.local' }, 'endpoint'],
    ['an unknown key', { profile: 'prod' }, ''],
    ['zero attempts', { maxAttempts: 0 }, 'maxAttempts'],
  ])('rejects %s', (_label, extra, path) => {
    const r = ecrTargetSchema.safeParse({ id: 'x', kind: 'ecr', region: 'us-east-1', ...extra });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });
});
