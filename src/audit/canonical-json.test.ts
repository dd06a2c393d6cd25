import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { canonicalJson, ChainCursor, chainHash, type ChainedEvent } from './chain.js';

/** The README's definition, written the obvious way: a sorted copy, then JSON.stringify. */
function reference(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(sorted);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = sorted((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sorted(value));
}

/** Random JSON-like values with the awkward parts: escapes, unicode, index-like keys, undefined, dates. */
function randomValue(random: () => number, depth = 0): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 7 : 10));
  const str = () => ['', 'a', 'tag "1.0"', 'line\nbreak', 'tab\tand\\slash', 'é✓𝄞', '\u0000\u001f', '10', '2', 'Z', 'zz'][Math.floor(random() * 11)];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return str();
    case 2:
      return [0, -0, 1.5, 1e21, -7, Number.NaN, Number.MAX_SAFE_INTEGER][Math.floor(random() * 7)];
    case 3:
      return random() < 0.5;
    case 4:
      return undefined;
    case 5:
      return new Date(Date.UTC(2026, 2, 3, 12, 0, 4, Math.floor(random() * 1000)));
    case 6:
      return `sha256:${Math.floor(random() * 1e9).toString(16)}`;
    case 7:
    case 8: {
      const o: Record<string, unknown> = {};
      const n = Math.floor(random() * 6);
      for (let i = 0; i < n; i++) o[str()] = randomValue(random, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  }
}

describe('canonicalJson', () => {
  it('writes exactly what the documented definition gives, for events and for awkward values', () => {
    const event = {
      type: 'tag',
      target: 'prod-ecr',
      repository: 'payments/api',
      tag: 'v1.4.2',
      kind: 'moved',
      digest: 'sha256:9d35',
      previousDigest: null,
      protected: true,
      protectionReason: 'protected: repository is IMMUTABLE',
      observedAt: '2026-03-03T12:00:04.211Z',
      scanId: 5,
      seq: 7,
    };
    expect(canonicalJson(event)).toBe(reference(event));
    expect(canonicalJson(event)).toBe(
      '{"digest":"sha256:9d35","kind":"moved","observedAt":"2026-03-03T12:00:04.211Z","previousDigest":null,"protected":true,"protectionReason":"protected: repository is IMMUTABLE","repository":"payments/api","scanId":5,"seq":7,"tag":"v1.4.2","target":"prod-ecr","type":"tag"}',
    );
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(random);
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });

  it('keeps JavaScript’s order for index-like keys and leaves out undefined members', () => {
    const v = { b: 1, 10: 'x', 2: 'y', a: undefined, c: [undefined, () => 1] };
    expect(canonicalJson(v)).toBe(reference(v));
    expect(canonicalJson(v)).toBe('{"2":"y","10":"x","b":1,"c":[null,null]}');
  });

  it('hashes tag events exactly as the documented definition, whatever their shape', () => {
    const reference256 = (previous: string, e: unknown) => createHash('sha256').update(`${previous}\n${reference(e)}`, 'utf8').digest('hex');
    const base = {
      type: 'tag' as const,
      seq: 3,
      target: 't',
      repository: 'r/ü "quoted"',
      tag: 'v1',
      kind: 'deleted',
      digest: null,
      previousDigest: 'sha256:aa',
      protected: false,
      protectionReason: 'not protected: line\nbreak',
      observedAt: '2026-03-03T12:00:04.211Z',
      scanId: 9,
    };
    const shapes: unknown[] = [
      base,
      { ...base, digest: 'sha256:bb', previousDigest: null, protected: true },
      { ...base, digest: undefined },
      { ...base, extraMember: 1 },
      { ...base, scanId: Number.NaN },
      { ...base, seq: 1e21 },
      { type: 'repository', seq: 1, target: 't', repository: 'r', kind: 'settings_changed', before: { b: 1, a: [2] }, after: null, observedAt: '2026-03-03T12:00:04.211Z', scanId: 1 },
    ];
    for (const e of shapes) expect(chainHash('prev', e as ChainedEvent)).toBe(reference256('prev', e));
  });

  it('extends a chain with the same hashes as the definition, event after event', () => {
    const cursor = new ChainCursor(4, 'head');
    let head = 'head';
    const reasons = ['protected: repository is IMMUTABLE', 'not protected: tag matches exclusion "dev-*"'];
    for (let i = 0; i < 50; i++) {
      const event = {
        type: 'tag' as const,
        target: i < 25 ? 'a' : 'b',
        repository: `repo/${i % 3}`,
        tag: `t${i}`,
        kind: i % 7 === 0 ? 'moved' : 'created',
        digest: i % 5 === 0 ? null : `sha256:${i}`,
        previousDigest: i % 7 === 0 ? 'sha256:old' : null,
        protected: i % 2 === 0,
        protectionReason: reasons[i % 2],
        observedAt: i < 10 ? '2026-03-03T12:00:04.211Z' : '2026-03-03T12:00:05.000Z',
        scanId: 1 + (i % 4),
        ...(i === 40 ? { extra: 'not in the usual shape' } : {}),
      };
      const link = cursor.append(event);
      head = createHash('sha256').update(`${head}\n${reference({ ...event, seq: 5 + i })}`, 'utf8').digest('hex');
      expect(link).toEqual({ seq: 5 + i, hash: head });
    }
  });
});
