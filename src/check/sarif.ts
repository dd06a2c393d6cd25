/**
 * `check` results as SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html),
 * the format GitHub code scanning and other CI tools ingest: one rule per verdict, one result per
 * reference that is not ok, located at its file, line and column.
 *
 * - Levels (§3.27.10): high and critical are `error`, medium and low `warning`, info `note`; ok
 *   verdicts (pinned, protected) are left out.
 * - Locations are relative to the directory `check` ran in, under the `%SRCROOT%` base id that GitHub
 *   resolves to the repository root (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning).
 * - Columns count UTF-16 code units, as JavaScript strings do (§3.14.23 `columnKind`).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHash } from 'node:crypto';
import type { CheckEntry, CheckRun } from './run.js';
import type { CheckSeverity, VerdictCode } from './verdict.js';
import { VERDICT_SEVERITY } from './verdict.js';

export const SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

const PIN_HELP = 'Pin the reference to the digest the ledger recorded: `tagledger check --pin PATH` (add `--dry-run` to see the diff first).';

const RULES: Record<Exclude<VerdictCode, 'pinned' | 'protected'>, { name: string; short: string; full: string; help: string }> = {
  moved: {
    name: 'TagMovedRecently',
    short: 'The image tag moved recently',
    full: 'The registry tag this reference names pointed at another image within the --moved-within window: a rollback or a new node may pull different code.',
    help: `${PIN_HELP} Then find out why the tag moved: \`tagledger history TARGET/REPOSITORY:TAG\`.`,
  },
  floating: {
    name: 'FloatingTag',
    short: 'Floating tag or no tag',
    full: 'Tags such as latest, stable, main or a bare major (v1) move by design, so what runs depends on when it was pulled.',
    help: `${PIN_HELP} Or deploy a version tag (SemVer or Git SHA) from a repository with immutable tags.`,
  },
  'pull-policy': {
    name: 'MutableTagCachedPull',
    short: 'Mutable tag with a cached pull policy',
    full: 'A tag the registry lets be overwritten, pulled with imagePullPolicy IfNotPresent (written, or the default for tags other than latest): nodes keep an old image after the tag moves, so replicas can run different code.',
    help: `${PIN_HELP} Or make the repository's tags immutable in the registry.`,
  },
  'not-protected': {
    name: 'TagNotProtected',
    short: 'The registry lets this tag be overwritten',
    full: "The ledger's record of the registry's settings says this tag is mutable: anyone who can push can change what it names.",
    help: `Enable tag immutability for the repository (ECR imageTagMutability, Artifact Registry immutable tags, Harbor immutable-tag rules), or ${PIN_HELP.charAt(0).toLowerCase()}${PIN_HELP.slice(1)}`,
  },
  'unknown-tag': {
    name: 'TagNotInLedger',
    short: 'The ledger does not have this tag',
    full: 'The ledger covers the repository but has never seen this tag, or saw it deleted: it may be newer than the last scan, or gone from the registry.',
    help: 'Scan the target again (`tagledger scan --target ID`) and check that the tag exists.',
  },
  invalid: {
    name: 'InvalidImageReference',
    short: 'Not a valid image reference',
    full: 'The value does not follow the distribution reference grammar, so a container runtime would refuse it.',
    help: 'Fix the reference: [registry[:port]/]path[:tag][@sha256:<64 hex>], lower-case path.',
  },
  unreadable: {
    name: 'UnreadableDocument',
    short: 'A YAML document could not be parsed',
    full: 'A document with a YAML syntax error was skipped, so the images it names were not checked.',
    help: 'Fix the YAML syntax error; for Helm charts, check the rendered output (`helm template ... | tagledger check -`).',
  },
  'not-audited': {
    name: 'RegistryNotAudited',
    short: 'The image comes from a registry the ledger does not cover',
    full: 'No configured target has a repository with this pull reference, so whether its tags can move is unknown.',
    help: 'Add the registry as a target, or list this host under an existing target\'s pullHosts if it is a mirror of it.',
  },
  unresolved: {
    name: 'UnresolvedReference',
    short: 'The reference depends on build args, variables or templates',
    full: 'The reference is only known at build or deploy time, so it was not checked.',
    help: 'Check the rendered form instead (for example `docker compose config` or `helm template` output on stdin).',
  },
};

const LEVEL: Record<CheckSeverity, 'none' | 'note' | 'warning' | 'error'> = {
  none: 'none',
  info: 'note',
  low: 'warning',
  medium: 'warning',
  high: 'error',
  critical: 'error',
};

export function checkSarif(run: CheckRun, tool: { version: string }): object {
  const ruleIds = Object.keys(RULES) as Array<keyof typeof RULES>;
  const rules = ruleIds.map((code) => {
    const r = RULES[code];
    return {
      id: `check/${code}`,
      name: r.name,
      shortDescription: { text: r.short },
      fullDescription: { text: r.full },
      help: { text: r.help, markdown: r.help },
      defaultConfiguration: { level: LEVEL[VERDICT_SEVERITY[code]] },
      properties: { tags: ['container-image', 'supply-chain'], severity: VERDICT_SEVERITY[code] },
    };
  });
  const results = run.entries
    .filter((e) => e.result.severity !== 'none')
    .map((e) => {
      const r = e.result;
      const code = r.verdict as keyof typeof RULES;
      return {
        ruleId: `check/${code}`,
        ruleIndex: ruleIds.indexOf(code),
        level: LEVEL[r.severity],
        message: { text: [r.reference ? `${r.reference}: ${r.reason}` : r.reason, ...r.notes].join('. ') },
        locations: [{ physicalLocation: { artifactLocation: artifact(r.file), region: region(e) } }],
        partialFingerprints: { 'tagledgerCheck/v1': fingerprint(e) },
        properties: {
          severity: r.severity,
          ...(r.reference !== null ? { reference: r.reference } : {}),
          ...(r.context !== null ? { context: r.context } : {}),
          ...(r.strategy ? { strategy: r.strategy.strategy } : {}),
          ...(r.ledger ? { target: r.ledger.target, repository: r.ledger.repository, ...(r.ledger.digest ? { ledgerDigest: r.ledger.digest } : {}) } : {}),
        },
      };
    });
  return {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'tagledger', version: tool.version, semanticVersion: tool.version, rules } },
        columnKind: 'utf16CodeUnits',
        results,
      },
    ],
  };
}

function artifact(file: string): { uri: string; uriBaseId?: string } {
  if (file === '-') return { uri: 'stdin' };
  if (isAbsolute(file)) return { uri: pathToFileURL(file).href };
  return { uri: encodeURI(file.replace(/^\.\//, '')), uriBaseId: '%SRCROOT%' };
}

function region(e: CheckEntry): { startLine: number; startColumn: number; endColumn?: number } {
  const r = { startLine: e.result.line, startColumn: e.result.column };
  const range = e.site?.range;
  if (!range) return r;
  const text = e.input.text.slice(range[0], range[1]);
  return text.includes('\n') ? r : { ...r, endColumn: e.result.column + text.length };
}

/** Stable across runs while the file, the place and the reference stay the same (line numbers may shift). */
function fingerprint(e: CheckEntry): string {
  const r = e.result;
  return createHash('sha256')
    .update([r.file, r.context ?? `line ${r.line}`, r.reference ?? '', r.verdict].join('\u0000'))
    .digest('hex')
    .slice(0, 32);
}
