import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { repoRoot } from '../../test/helpers/cli.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, maskSecrets, parseConfig } from './load.js';
import { interpolateString } from './interpolate.js';

const ctx = (env: Record<string, string> = {}, baseDir = '/') => ({ env, baseDir });

describe('interpolation', () => {
  it.each([
    ['plain', {}, 'plain'],
    ['${A}', { A: 'x' }, 'x'],
    ['pre-${A}-post', { A: 'x' }, 'pre-x-post'],
    ['${A:-fallback}', {}, 'fallback'],
    ['${A:-}', {}, ''],
    ['${A:-fallback}', { A: 'set' }, 'set'],
    ['robot$audit', {}, 'robot$audit'],
    ['cost $5', {}, 'cost $5'],
    ['$$', {}, '$'],
    ['$${A}', { A: 'x' }, '${A}'],
    ['trailing $', {}, 'trailing $'],
  ])('%s → %s', (input, env, expected) => {
    expect(interpolateString(input, ctx(env as Record<string, string>), 'x')).toBe(expected);
  });

  it('names the path and the variable when a variable is missing', () => {
    expect(() => interpolateString('${NOPE}', ctx(), 'targets[0].password')).toThrow('targets[0].password: environment variable NOPE is not set');
  });

  it('reads ${file:PATH} relative to the config, trimming one trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-cfg-'));
    writeFileSync(join(dir, 'secret'), 's3cret\n\n');
    expect(interpolateString('${file:secret}', ctx({}, dir), 'p')).toBe('s3cret\n');
    expect(() => interpolateString('${file:missing}', ctx({}, dir), 'targets[0].password')).toThrow(/targets\[0\].password: cannot read secret file missing \(ENOENT\)/);
  });
});

describe('parseConfig', () => {
  const valid = `
targets:
  - id: local
    kind: oci
    url: http://127.0.0.1:5000
    username: robot$audit
    password: \${PW}
`;
  it('parses a valid config with defaults', () => {
    const c = parseConfig(valid, { env: { PW: 'hunter2' } });
    expect(c.targets[0]).toMatchObject({ id: 'local', kind: 'oci', username: 'robot$audit', password: 'hunter2', insecureSkipTlsVerify: false });
  });

  it('names the path of a bad value', () => {
    const bad = valid.replace('http://127.0.0.1:5000', 'ftp://x');
    expect(() => parseConfig(bad, { env: { PW: 'x' } })).toThrow(/targets\[0\]\.url: must be an http\(s\) URL/);
  });

  it('names an unknown kind and lists the known ones', () => {
    const bad = valid.replace('kind: oci', 'kind: quay');
    expect(() => parseConfig(bad, { env: { PW: 'x' } })).toThrow(/targets\[0\]\.kind: unknown kind "quay" \(one of: oci/);
  });

  it('rejects duplicate ids, bad ids and unknown keys', () => {
    const dup = `targets:\n  - { id: a, kind: oci, url: "http://x" }\n  - { id: a, kind: oci, url: "http://y" }\n`;
    expect(() => parseConfig(dup)).toThrow(/targets\[1\]\.id: duplicate target id "a"/);
    expect(() => parseConfig(`targets:\n  - { id: Bad_Id, kind: oci, url: "http://x" }\n`)).toThrow(/targets\[0\]\.id: must match/);
    expect(() => parseConfig(`targets:\n  - { id: a, kind: oci, url: "http://x", colour: red }\n`)).toThrow(/targets\[0\].*colour/);
  });

  it('reads anchor: as a list of configured notifier ids', () => {
    const c = parseConfig(`${valid}notifiers:\n  - { id: roots, kind: webhook, url: "https://audit.example.com/roots" }\nanchor: [roots]\n`, { env: { PW: 'x' } });
    expect(c.anchor).toEqual(['roots']);
    expect(parseConfig(valid, { env: { PW: 'x' } }).anchor).toBeUndefined();
  });

  it('refuses an anchor naming an unknown notifier, or one notifier twice, naming the path', () => {
    const notifiers = `notifiers:\n  - { id: roots, kind: webhook, url: "https://audit.example.com/roots" }\n  - { id: chat, kind: slack, url: "https://hooks.slack.com/services/T/B/X" }\n`;
    expect(() => parseConfig(`${valid}${notifiers}anchor: [roots, audit-log]\n`, { env: { PW: 'x' } })).toThrow(
      'anchor[1]: unknown notifier "audit-log" (configured notifiers: roots, chat)',
    );
    expect(() => parseConfig(`${valid}anchor: [roots]\n`, { env: { PW: 'x' } })).toThrow('anchor[0]: unknown notifier "roots" (no notifiers are configured)');
    expect(() => parseConfig(`${valid}${notifiers}anchor: [roots, roots]\n`, { env: { PW: 'x' } })).toThrow('anchor[1]: notifier "roots" is listed twice (also anchor[0])');
  });

  it('reports invalid YAML as a ConfigError', () => {
    expect(() => parseConfig('targets: [\n')).toThrow(ConfigError);
  });

  it('never puts a secret value into an error', () => {
    const bad = valid.replace('url: http://127.0.0.1:5000', 'url: ${PW}');
    try {
      parseConfig(bad, { env: { PW: 'hunter2-secret' } });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain('hunter2-secret');
    }
  });
});

describe('shipped example configs', () => {
  it.each(['config/example.yaml', 'config/minimal.yaml', 'deploy/compose/tagledger.yaml'])('%s is valid', (file) => {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    // The secrets the examples read from the environment.
    const env = { HARBOR_ROBOT_SECRET: 'h', TAGLEDGER_API_TOKEN: 't', WEBHOOK_SECRET: 'w', POSTGRES_PASSWORD: 'p' };
    expect(() => parseConfig(text, { env, source: file })).not.toThrow();
  });

  it('leaves out a value that interpolates to nothing', () => {
    const c = parseConfig(`targets:\n  - { id: a, kind: oci, url: "http://x", password: "\${NOPE:-}" }\n`, { env: {} });
    expect(c.targets[0]).not.toHaveProperty('password');
  });
});

describe('maskSecrets', () => {
  it('masks secret keys and passwords in URLs', () => {
    expect(maskSecrets({ password: 'p', username: 'u', database: { url: 'postgres://u:pw@h/db' }, notifiers: [{ secret: 's' }] })).toEqual({
      password: '***',
      username: 'u',
      database: { url: 'postgres://u:***@h/db' },
      notifiers: [{ secret: '***' }],
    });
  });

  it('masks Slack webhook URLs and credential headers', () => {
    expect(
      maskSecrets({ notifiers: [{ kind: 'slack', url: 'https://hooks.slack.com/services/T0/B0/XYZ' }, { kind: 'webhook', url: 'https://h/x', headers: { Authorization: 'Bearer abc', 'X-Team': 'platform' } }] }),
    ).toEqual({ notifiers: [{ kind: 'slack', url: 'https://hooks.slack.com/***' }, { kind: 'webhook', url: 'https://h/x', headers: { Authorization: '***', 'X-Team': 'platform' } }] });
  });
});
