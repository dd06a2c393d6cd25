import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { garTargetSchema } from './config.js';

const base = { id: 'gar-prod', kind: 'gar', project: 'acme-prod', locations: ['us', 'europe-west1'] };

function issues(input: unknown): string[] {
  const r = garTargetSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('gar target config', () => {
  it('accepts the documented shape and is part of the config union', () => {
    const cfg = configSchema.parse({
      targets: [{ ...base, repositories: ['*/docker-prod/**'], keyFile: '/secrets/sa.json' }, { ...base, id: 'gar-emu', endpoint: 'http://127.0.0.1:8443' }],
    });
    expect(cfg.targets.map((t) => t.kind)).toEqual(['gar', 'gar']);
    expect(garTargetSchema.parse({ ...base, project: 'example.com:acme-prod' }).project).toBe('example.com:acme-prod');
  });

  it('requires at least one location, once each, and a project ID', () => {
    expect(issues({ ...base, locations: [] })).toEqual([expect.stringMatching(/^locations:/)]);
    expect(issues({ ...base, locations: ['us', 'us'] })).toEqual(['locations: must not list a location twice']);
    expect(issues({ ...base, project: 'Acme Prod' })[0]).toMatch(/^project: must be a Google Cloud project ID/);
    expect(issues({ ...base, location: 'us' })[0]).toMatch(/location/);
  });

  it('takes an endpoint as scheme://host[:port] only', () => {
    expect(issues({ ...base, endpoint: 'https://ar.example.internal' })).toEqual([]);
    expect(issues({ ...base, endpoint: 'grpc://127.0.0.1:1' })[0]).toMatch(/^endpoint: must start with http/);
    expect(issues({ ...base, endpoint: 'http://127.0.0.1:1/v1' })[0]).toMatch(/^endpoint: .*no path/);
    expect(issues({ ...base, endpoint: 'https://u:p@host' })[0]).toMatch(/^endpoint: must not contain credentials/);
  });

  it('never sends credentials over plaintext, and keeps custom TLS settings to credential-less https endpoints', () => {
    expect(issues({ ...base, endpoint: 'http://127.0.0.1:1', keyFile: '/k.json' })).toEqual([expect.stringMatching(/^keyFile: cannot be used with a plaintext/)]);
    expect(issues({ ...base, endpoint: 'http://127.0.0.1:1', caFile: '/ca.pem' })).toEqual(['caFile: applies to an https:// endpoint only']);
    expect(issues({ ...base, caFile: '/ca.pem' })[0]).toMatch(/^caFile: applies to an https:\/\/ endpoint only/);
    expect(issues({ ...base, endpoint: 'https://h:1', keyFile: '/k.json', insecureSkipTlsVerify: true })[0]).toMatch(/^insecureSkipTlsVerify: cannot be combined with keyFile/);
    expect(issues({ ...base, endpoint: 'https://h:1', caFile: '/ca.pem', insecureSkipTlsVerify: true })).toEqual([]);
  });
});
