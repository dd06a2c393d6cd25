/**
 * The report's findings as SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html),
 * for GitHub code scanning and other SARIF consumers. Pure.
 *
 * - One rule per finding type, with help text giving the fix per registry; each result's message
 *   ends with the exact fix for its repository.
 * - A registry has no source files: every result has a logical location `target/repository:tag`
 *   (§3.33) and, when the repository's pull reference is known, an artifact location
 *   `registry://host[:port]/path[:tag]`.
 * - Acknowledged findings are results with an external, accepted suppression (§3.35), so consumers
 *   show them as dismissed rather than losing them.
 * - `partialFingerprints` carries the finding's fingerprint, so a result keeps its identity across
 *   reports (GitHub uses it to match alerts between uploads:
 *   https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning#providing-data-to-track-code-scanning-alerts-across-runs).
 */
import type { Severity } from '../notifiers/types.js';
import { version } from '../cli/version.js';
import type { ReportFinding, ReportModel } from './model.js';
import { FINDING_RULES } from './rules.js';

export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

type Level = 'error' | 'warning' | 'note';

export function sarifLevel(severity: Severity): Level {
  return severity === 'critical' || severity === 'high' ? 'error' : severity === 'medium' ? 'warning' : 'note';
}

/**
 * GitHub's `security-severity` (a CVSS-like score as a string) ranks alerts as critical (9.0+),
 * high (7.0+), medium (4.0+) or low.
 * https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning#reportingdescriptor-object
 */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

/** `registry://host[:port]/path[:tag]`, each path segment and the tag percent-encoded. */
export function registryUri(pullReference: string, tag: string | null): string {
  const [host, ...path] = pullReference.split('/');
  const encodedHost = /^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9A-Fa-f:.]+\](?::\d+)?$/.test(host) ? host : encodeURIComponent(host);
  const segments = path.map((s) => encodeURIComponent(s));
  return `registry://${[encodedHost, ...segments].join('/')}${tag ? `:${encodeURIComponent(tag)}` : ''}`;
}

function logicalName(f: ReportFinding): string {
  if (!f.repository) return f.target;
  return `${f.target}/${f.repository}${f.tag ? `:${f.tag}` : ''}`;
}

function result(f: ReportFinding, ruleIndex: number) {
  const location: Record<string, unknown> = {
    logicalLocations: [{ fullyQualifiedName: logicalName(f), name: f.tag ?? f.repository ?? f.target, kind: 'resource' }],
  };
  if (f.pullReference) location.physicalLocation = { artifactLocation: { uri: registryUri(f.pullReference, f.tag) } };
  return {
    ruleId: f.type,
    ...(ruleIndex >= 0 ? { ruleIndex } : {}),
    level: sarifLevel(f.severity),
    message: { text: `${f.summary}. Fix: ${f.remediation}` },
    locations: [location],
    partialFingerprints: { 'tagledgerFinding/v1': f.fingerprint },
    ...(f.status === 'acknowledged'
      ? { suppressions: [{ kind: 'external', status: 'accepted', ...(f.statusReason ? { justification: f.statusReason } : {}) }] }
      : {}),
    properties: {
      findingId: f.id,
      severity: f.severity,
      status: f.status,
      target: f.target,
      repository: f.repository,
      tag: f.tag,
      digest: f.digest,
      previousDigest: f.previousDigest,
      remediation: f.remediation,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
    },
  };
}

export function buildSarif(model: ReportModel) {
  const rules = FINDING_RULES.map((r) => ({
    id: r.id,
    name: r.name,
    shortDescription: { text: r.short },
    fullDescription: { text: r.full },
    help: { text: r.help, markdown: r.help.replace(/^- /gm, '* ') },
    defaultConfiguration: { level: sarifLevel(r.defaultSeverity) },
    properties: { tags: ['security', 'supply-chain', 'container-registry'], 'security-severity': SECURITY_SEVERITY[r.defaultSeverity] },
  }));
  const index = new Map(rules.map((r, i) => [r.id as string, i]));
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0' as const,
    runs: [
      {
        tool: { driver: { name: 'tagledger', version, semanticVersion: version, rules } },
        invocations: [{ executionSuccessful: true, endTimeUtc: model.generatedAt }],
        results: model.findings.map((f) => result(f, index.get(f.type) ?? -1)),
        properties: { filters: model.filters, findingsOmitted: model.findingsOmitted },
      },
    ],
  };
}

export function renderSarif(model: ReportModel): string {
  return `${JSON.stringify(buildSarif(model), null, 2)}\n`;
}
