/**
 * The corpus of invalid configurations in test/fixtures/bad-configs: each `NAME.yaml` has one fault,
 * and `NAME.expected` the fragments its message must contain (one per line), the first naming the
 * path of the bad value. Every one goes through the real CLI (`tagledger config check`), which must
 * exit 3 with one clear line on stderr and no stack trace.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

const dir = join(repoRoot, 'test', 'fixtures', 'bad-configs');
const corpus = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({
    file,
    expected: readFileSync(join(dir, file.replace(/\.yaml$/, '.expected')), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== ''),
  }));

describe('invalid configurations', () => {
  it('the corpus holds at least 25 configs, each with what its message must say', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(25);
    for (const c of corpus) expect(c.expected.length, c.file).toBeGreaterThan(0);
  });

  describe.concurrent('tagledger config check', () => {
    for (const { file, expected } of corpus) {
      it(`${file}: exit 3, ${expected[0]}`, async () => {
        // DATABASE_URL and the corpus' variables are unset: only the file decides.
        const r = await runCli(['--config', join(dir, file), 'config', 'check'], { env: { DATABASE_URL: '', TAGLEDGER_TEST_UNDEFINED_SECRET: undefined } });
        expect(r.code, r.stderr).toBe(3);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines, 'one message').toHaveLength(1);
        expect(lines[0]).toMatch(/^tagledger: /);
        for (const fragment of expected) expect(lines[0]).toContain(fragment);
        expect(r.stderr).not.toMatch(/\n\s+at |internal error|ZodError|\{\s*"\w+":/);
      });
    }
  });
});
