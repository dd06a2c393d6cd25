import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tagledger-serve-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('tagledger serve: refusals (exit 3)', () => {
  it('refuses a non-loopback address without a token, a bad schedule, and a bad prune age', async () => {
    const target = 'targets:\n  - id: local\n    kind: oci\n    url: http://127.0.0.1:5000\n';
    const open = config('open.yaml', `api:\n  listen: 0.0.0.0:8080\n${target}`);
    const badCron = config('cron.yaml', `${target}    schedule: "0 */2 * *"\n`);
    const [fromConfig, fromFlag, cron, prune] = await Promise.all([
      runCli(['--config', open, 'serve']),
      runCli(['--config', open, 'serve', '--listen', '[::]:9000']),
      runCli(['--config', badCron, 'serve']),
      runCli(['--config', open, 'prune', '--older-than', 'soon']),
    ]);
    expect(fromConfig.code).toBe(3);
    expect(fromConfig.stderr).toMatch(/api\.listen: 0\.0\.0\.0:8080 is not a loopback address and api\.token is not set/);
    expect(fromFlag.code).toBe(3);
    expect(fromFlag.stderr).toMatch(/--listen: \[::\]:9000 is not a loopback address/);
    expect(cron.code).toBe(3);
    expect(cron.stderr).toMatch(/targets\[0\]\.schedule: must be a cron expression/);
    expect(prune.code).toBe(3);
    expect(prune.stderr).toMatch(/--older-than "soon" must be a duration/);
  });
});
