import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A scan makes a columnar observation per repository. Built with a closure of its own for the
 * `tags` accessor, each observation got a hidden class of its own, and a re-scan's columns were
 * copied out of the young generation repository after repository (BENCHMARKS.md has the
 * figures). V8's own `%HaveSameMap` says whether two objects share their hidden class.
 */
describe('columnar observations', () => {
  it('share one hidden class', () => {
    const script = fileURLToPath(new URL('../fixtures/shared-hidden-classes.ts', import.meta.url));
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ observations: true });
  });
});
