import { describe, expect, it } from 'vitest';
import { diffLines, unifiedDiff } from './diff.js';

/** Applies a unified diff the way `patch` does, checking every context and removed line. */
function applyUnified(before: string, diff: string): string {
  const beforeEol = before === '' || before.endsWith('\n');
  const old = before === '' ? [] : (beforeEol ? before.slice(0, -1) : before).split('\n');
  const out: string[] = [];
  // Lines the hunks print end with a newline unless a marker says otherwise.
  let newEol = true;
  let pos = 0;
  const lines = diff.split('\n');
  lines.pop();
  let i = 2;
  while (i < lines.length) {
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i]);
    if (!h) throw new Error(`bad hunk header ${lines[i]}`);
    const aLen = h[2] === undefined ? 1 : Number(h[2]);
    const aStart = aLen === 0 ? Number(h[1]) : Number(h[1]) - 1;
    while (pos < aStart) out.push(old[pos++]);
    i++;
    let last = '';
    while (i < lines.length && !lines[i].startsWith('@@')) {
      const l = lines[i++];
      if (l === '\\ No newline at end of file') {
        if (last === '+' || last === ' ') newEol = false;
        continue;
      }
      last = l[0];
      const text = l.slice(1);
      if (l[0] === ' ' || l[0] === '-') {
        if (old[pos] !== text) throw new Error(`line ${pos + 1}: expected ${JSON.stringify(text)}, found ${JSON.stringify(old[pos])}`);
        pos++;
      }
      if (l[0] === ' ' || l[0] === '+') out.push(text);
    }
  }
  if (pos < old.length) newEol = beforeEol;
  while (pos < old.length) out.push(old[pos++]);
  return out.length ? out.join('\n') + (newEol ? '\n' : '') : '';
}

describe('unifiedDiff', () => {
  it('prints hunks with three lines of context, like diff -u', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm'].join('\n') + '\n';
    const after = before.replace('b\n', 'B\n').replace('l\n', 'L\n');
    expect(unifiedDiff(before, after, { from: 'a/f.yaml', to: 'b/f.yaml' })).toBe(
      ['--- a/f.yaml', '+++ b/f.yaml', '@@ -1,5 +1,5 @@', ' a', '-b', '+B', ' c', ' d', ' e', '@@ -9,5 +9,5 @@', ' i', ' j', ' k', '-l', '+L', ' m', ''].join('\n'),
    );
    expect(unifiedDiff(before, before, { from: 'a', to: 'b' })).toBe('');
  });

  it('marks a missing final newline', () => {
    expect(unifiedDiff('x\ny', 'x\nz', { from: 'a', to: 'b' })).toBe(
      ['--- a', '+++ b', '@@ -1,2 +1,2 @@', ' x', '-y', '\\ No newline at end of file', '+z', '\\ No newline at end of file', ''].join('\n'),
    );
  });

  it('round-trips random edits (diff, then apply, gives the new text)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    for (let t = 0; t < 200; t++) {
      const a = Array.from({ length: rnd(25) }, () => 'abcd'[rnd(4)]);
      const b = Array.from({ length: rnd(25) }, () => 'abcd'[rnd(4)]);
      const ops = diffLines(a, b);
      expect(ops.filter((o) => o.kind !== '+').map((o) => o.line)).toEqual(a);
      expect(ops.filter((o) => o.kind !== '-').map((o) => o.line)).toEqual(b);
      const before = a.join('\n') + (a.length && t % 2 ? '\n' : '');
      const after = b.join('\n') + (b.length && t % 3 ? '\n' : '');
      const d = unifiedDiff(before, after, { from: 'a/f', to: 'b/f' });
      if (before === after) expect(d).toBe('');
      else expect(applyUnified(before, d), JSON.stringify({ before, after, d })).toBe(after);
    }
  });
});
