/**
 * `tagledger report` formats from a real database: an OCI emulator scanned twice (a tag moves in
 * between), plus a repository whose name is hostile (quotes, `<script>`, spreadsheet formulas), as
 * a misbehaving registry could report it. The renderers must keep such names inert in every format.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Ajv } from 'ajv';
import type { TargetConfig } from '../../src/config/schema.js';
import { startOciEmulator, type OciEmulator } from '../../src/emulators/oci/index.js';
import { runScan } from '../../src/scheduler/run-scan.js';
import { buildReportModel, type ReportModel } from '../../src/reports/model.js';
import { CSV_COLUMNS, renderCsv } from '../../src/reports/csv.js';
import { buildSarif, renderSarif } from '../../src/reports/sarif.js';
import { renderHtml } from '../../src/reports/html.js';
import { renderTable } from '../../src/reports/table.js';
import { renderJson } from '../../src/reports/json.js';
import { FINDING_RULES } from '../../src/reports/rules.js';
import { openTestDatabase, type TestDatabase } from '../helpers/db.js';
import { complete, observed, scriptedCollector } from '../helpers/scripted-collector.js';
import { repoRoot } from '../helpers/cli.js';

const logger = pino({ level: 'silent' });

const HOSTILE = [
  'evil/"><script>alert(1)</script>',
  '=HYPERLINK("http://attacker.example/x","open")',
  '+cmd|\' /C calc\'!A0',
  '-2+3',
  '@SUM(1+1)',
  '\tindent',
  'comma,quote"line\nbreak',
];

let t: TestDatabase;
let emu: OciEmulator;
let model: ReportModel;
let moved: { from: string; to: string };

beforeAll(async () => {
  t = await openTestDatabase();
  emu = await startOciEmulator();
  const first = emu.pushImage('shop/api', '1.4.2');
  emu.pushImage('shop/api', 'latest');
  const target = { id: 'shop', kind: 'oci', url: emu.url, insecureSkipTlsVerify: false } as TargetConfig;
  let ms = Date.parse('2026-03-01T10:00:00Z');
  const now = () => new Date(ms++);
  await runScan(t.db, target, { logger, now });
  const to = emu.moveTag('shop/api', '1.4.2').digest;
  moved = { from: first.digest, to };
  ms = Date.parse('2026-03-02T10:00:00Z');
  expect((await runScan(t.db, target, { logger, now })).events.moved).toBe(1);

  // Repository names are not validated by the store (registries name them): a hostile one gets in.
  const hostileTarget = { id: 'odd', kind: 'oci', url: 'http://127.0.0.1:9', insecureSkipTlsVerify: false } as TargetConfig;
  const scans = [
    [...HOSTILE.map((name, i) => observed(name, { v1: 10 + i })), complete],
    [...HOSTILE.map((name, i) => observed(name, { v1: 20 + i })), complete],
  ];
  for (const results of scans) {
    ms += 3_600_000;
    await runScan(t.db, hostileTarget, { logger, now, collector: scriptedCollector('odd', results) });
  }
  model = await buildReportModel(t.db, { now: new Date('2026-03-05T00:00:00Z') });
});

afterAll(async () => {
  await emu?.close();
  await t?.close();
});

/** A strict RFC 4180 reader: fails on anything a conforming writer would not produce. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        if (text[i] === '"' || text[i] === '\n') throw new Error(`bare ${JSON.stringify(text[i])} in an unquoted field at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ',') i++;
    else if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
    } else if (i < text.length) throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`);
  }
  if (row.length) throw new Error('last record lacks CRLF');
  return rows;
}

describe('the report model', () => {
  it('summarises targets, lists findings, repositories with protection and the tag move', () => {
    expect(model.targets.map((x) => [x.target, x.repositories, x.tags])).toEqual([
      ['odd', HOSTILE.length, HOSTILE.length],
      ['shop', 1, 2],
    ]);
    expect(model.repositories.find((r) => r.repository === 'shop/api')).toMatchObject({ mode: 'unknown', protectedTags: 0, unprotectedTags: 2, protected: false });
    expect(model.changes.find((c) => c.repository === 'shop/api')).toMatchObject({ kind: 'moved', tag: '1.4.2', previousDigest: moved.from, digest: moved.to });
    expect(model.findings.some((f) => f.type === 'tag.moved' && f.repository === 'shop/api' && f.tag === '1.4.2')).toBe(true);
    expect(model.findings.some((f) => f.repository === HOSTILE[0])).toBe(true);
    expect(model.repositoriesOmitted).toBe(0);
  });

  it('limits the repositories listed and says how many were left out', async () => {
    const limited = await buildReportModel(t.db, { repositoriesLimit: 3 });
    expect(limited.repositories.map((r) => r.repository)).toEqual(model.repositories.slice(0, 3).map((r) => r.repository));
    expect(limited.repositoriesOmitted).toBe(model.repositories.length - 3);
    const oneTarget = await buildReportModel(t.db, { targets: ['shop'], minSeverity: 'high' });
    expect(oneTarget.repositories.map((r) => r.repository)).toEqual(['shop/api']);
    expect(oneTarget.findings.map((f) => [f.type, f.severity])).toEqual([['tag.moved', 'high']]);
    expect(oneTarget.changes.every((c) => c.target === 'shop')).toBe(true);
  });
});

describe('csv', () => {
  it('is RFC 4180 and defuses cells a spreadsheet would run as formulas', () => {
    const text = renderCsv(model);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    expect(rows.length).toBe(model.findings.length + 1);
    expect(rows.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const repoColumn = CSV_COLUMNS.indexOf('repository');
    const repos = new Set(rows.slice(1).map((r) => r[repoColumn]));
    for (const name of HOSTILE) {
      const expected = /^[=+\-@\t\r]/.test(name) ? `'${name}` : name;
      expect([name, repos.has(expected)]).toEqual([name, true]);
    }
    // No cell of any column starts a formula.
    for (const r of rows.slice(1)) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});

describe('sarif', () => {
  /** ajv 8 has no draft-04 and ajv-draft-04 is not installed: see test/fixtures/SOURCES.md. */
  function sarifValidator() {
    const schema = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'sarif-schema-2.1.0.json'), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('http://json-schema.org/draft-04/schema#');
    const { id, $schema: _draft04, ...rest } = schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    // The formats the schema uses, checked here rather than ignored.
    ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
    ajv.addFormat('uri', (s: string) => /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/.test(s) && URL.canParse(s));
    ajv.addFormat('uri-reference', (s: string) => !/\s/.test(s) && URL.canParse(s, 'http://base.invalid/'));
    return ajv.compile({ ...rest, $id: String(id), $schema: 'http://json-schema.org/draft-07/schema#' });
  }

  it('validates against the SARIF 2.1.0 schema, with one rule per finding type carrying help and fix commands', () => {
    const validate = sarifValidator();
    const sarif = JSON.parse(renderSarif(model));
    const ok = validate(sarif);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);

    const rules = sarif.runs[0].tool.driver.rules as Array<{ id: string; help: { text: string } }>;
    expect(rules.map((r) => r.id)).toEqual(FINDING_RULES.map((r) => r.id));
    expect(new Set(rules.map((r) => r.id)).size).toBe(8);
    expect(rules.find((r) => r.id === 'repository.mutable')!.help.text).toContain('aws ecr put-image-tag-mutability');
    expect(rules.find((r) => r.id === 'repository.mutable')!.help.text).toContain('gcloud artifacts repositories update');

    const results = sarif.runs[0].results as Array<Record<string, any>>;
    expect(results).toHaveLength(model.findings.length);
    const move = results.find((r) => r.ruleId === 'tag.moved' && r.properties.repository === 'shop/api')!;
    expect(rules[move.ruleIndex].id).toBe('tag.moved');
    expect(move.locations[0].logicalLocations[0].fullyQualifiedName).toBe('shop/shop/api:1.4.2');
    expect(move.locations[0].physicalLocation.artifactLocation.uri).toBe(`registry://${new URL(emu.url).host}/shop/api:1.4.2`);
    expect(move.message.text).toContain('Fix: ');
    expect(move.partialFingerprints['tagledgerFinding/v1']).toMatch(/^tag\.moved:shop:shop\/api:1\.4\.2:/);
  });

  it('an acknowledged finding is a suppressed result, still valid', () => {
    const validate = sarifValidator();
    const acked: ReportModel = { ...model, findings: model.findings.map((f, i) => (i === 0 ? { ...f, status: 'acknowledged', statusReason: 'known, fixed next sprint' } : f)) };
    const sarif = buildSarif(acked);
    expect(validate(JSON.parse(JSON.stringify(sarif)))).toBe(true);
    expect((sarif.runs[0].results[0] as Record<string, unknown>).suppressions).toEqual([{ kind: 'external', status: 'accepted', justification: 'known, fixed next sprint' }]);
  });
});

describe('html', () => {
  it('is one self-contained file: no external references, no scripts, every name escaped', () => {
    const html = renderHtml(model);
    // Nothing is loaded from anywhere: no src/href/action to a URL with a scheme or a network path,
    // no CSS url() or @import, no <link>, no <script> (the hostile name stays text).
    const refs = [...html.matchAll(/\s(?:src|href|action|srcset|xlink:href|poster|data)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)].map((m) => m[1].replace(/^["']|["']$/g, ''));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toMatch(/^#/);
    expect(html).not.toMatch(/url\s*\(/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script\b/i);
    expect(html).not.toMatch(/<iframe\b|<object\b|<embed\b|<img\b/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('evil/&quot;&gt;&lt;script&gt;');
    // http:// appears only inside escaped text (the hostile name), never as markup.
    for (const m of html.matchAll(/https?:\/\//g)) expect(html.slice(Math.max(0, m.index! - 40), m.index!)).toContain('HYPERLINK(&quot;');
    expect(html).toContain("Content-Security-Policy\" content=\"default-src 'none'");
  });

  it('has the summary, the chart of findings by severity and target, the timeline and per-repository tables', () => {
    const html = renderHtml(model);
    expect(html).toContain('<h2>Summary</h2>');
    const svg = /<svg class="chart"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    expect(svg).toContain('>shop<');
    expect(svg).toContain('>odd<');
    expect(svg).toMatch(/<title>shop: \d+ medium<\/title>/);
    expect(html).toMatch(/<ol class="timeline">[\s\S]*1\.4\.2[\s\S]*moved/);
    expect(html).toContain(`title="${moved.from}"`);
    expect(html).toContain(`title="${moved.to}"`);
    const apiId = model.repositories.find((r) => r.repository === 'shop/api')!.id;
    expect(html).toContain(`<section class="repository" id="repository-${apiId}">`);
    expect(html).toContain(`href="#repository-${apiId}"`);
  });
});

describe('table and json', () => {
  it('table: aligned, uncoloured unless asked, control characters made visible', () => {
    const plain = renderTable(model, { color: false });
    expect(plain).not.toContain('\x1b[');
    expect(plain).toContain('\\x09indent'); // the TAB in a name cannot reach the terminal raw
    expect(plain).not.toMatch(/comma,quote"line\n/);
    const header = plain.split('\n').find((l) => l.startsWith('target  repository'))!;
    const rows = plain.split('\n').filter((l) => l.startsWith('shop  ') && l.includes('shop/api'));
    expect(rows.length).toBe(1);
    expect(rows[0].indexOf('unknown')).toBe(header.indexOf('mode'));
    const colored = renderTable(model, { color: true });
    expect(colored).toContain('\x1b[33mmedium');
  });

  it('json: the model itself', () => {
    expect(JSON.parse(renderJson(model))).toEqual(JSON.parse(JSON.stringify(model)));
  });

  it('shows how each repository tags: the re-pushed version tag and the floating tag left mutable', () => {
    const api = model.repositories.find((r) => r.repository === 'shop/api')!;
    expect(api.strategy).not.toBeNull();
    expect(api.strategy!.repushedVersionTags.map((t) => [t.tag, t.repushes])).toEqual([['1.4.2', 1]]);
    expect(api.strategy!.share.semver).toBeGreaterThan(0);
    const html = renderHtml(model);
    expect(html).toContain('<strong>version tags re-pushed</strong>: <code>1.4.2</code> (1×)');
    expect(renderTable(model, { color: false })).toMatch(/re-pushed versions/);
  });
});
