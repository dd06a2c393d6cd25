/**
 * One rule per finding type: what it means and how to fix it, for SARIF's `rules` and the HTML
 * legend. Each finding also carries the exact fix for its own repository (`remediation`); these
 * texts are the general form, per registry.
 */
import type { FindingType, Severity } from '../notifiers/types.js';

export interface FindingRule {
  id: FindingType;
  /** PascalCase, as SARIF's reportingDescriptor.name suggests. */
  name: string;
  short: string;
  full: string;
  help: string;
  /** The severity tagledger gives it unless the policy or the situation says otherwise. */
  defaultSeverity: Severity;
}

const FIX_IMMUTABLE = [
  'Make the repository\'s tags immutable (each finding names the exact command for its repository):',
  '- Amazon ECR: aws ecr put-image-tag-mutability --repository-name REPOSITORY --image-tag-mutability IMMUTABLE',
  '  (or IMMUTABLE_WITH_EXCLUSION with --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=latest for tags meant to move)',
  '- Google Artifact Registry: gcloud artifacts repositories update REPOSITORY --location=LOCATION --immutable-tags',
  '- Harbor: Project → Policy → Tag Immutability → add a rule (or POST /api/v2.0/projects/PROJECT/immutabletagrules)',
  '- A registry without tag immutability: deploy by digest (image@sha256:…), or move the repository to one that has it.',
].join('\n');

export const FINDING_RULES: readonly FindingRule[] = [
  {
    id: 'tag.moved',
    name: 'TagMoved',
    short: 'A tag now points to a different image.',
    full: 'The tag\'s digest changed between two scans: whoever pulls it now gets another image than before, so deployments, rollbacks and audits that name the tag no longer mean one image.',
    help: `Deploy by digest, find out who re-pushed the tag, and stop it from happening again.\n${FIX_IMMUTABLE}`,
    defaultSeverity: 'medium',
  },
  {
    id: 'tag.deleted',
    name: 'TagDeleted',
    short: 'A tag was deleted.',
    full: 'A tag that existed in the previous scan is gone: deployments that pull it fail, and the image it named can only be found by digest (tagledger keeps it).',
    help: `Check who deleted the tag and whether anything still pulls it; restore it on the recorded digest if needed (tagledger history TARGET/REPOSITORY:TAG).\n${FIX_IMMUTABLE}`,
    defaultSeverity: 'low',
  },
  {
    id: 'tag.restored',
    name: 'TagRestored',
    short: 'A deleted tag reappeared.',
    full: 'A tag that had been deleted is back, on the digest it had before or on another one; on another digest it is a move in two steps.',
    help: `Compare the digest with the one recorded before the deletion (tagledger history TARGET/REPOSITORY:TAG).\n${FIX_IMMUTABLE}`,
    defaultSeverity: 'info',
  },
  {
    id: 'repository.mutable',
    name: 'RepositoryMutable',
    short: 'The registry lets tags of this repository be overwritten.',
    full: 'The repository\'s settings leave some or all of its tags mutable (or the registry reports no setting at all): any of them can be pointed at another image without deleting anything.',
    help: FIX_IMMUTABLE,
    defaultSeverity: 'medium',
  },
  {
    id: 'tag.unprotected',
    name: 'TagUnprotected',
    short: 'Tags that policy says must never move are not protected by the registry.',
    full: 'The policy marks these tags (for example release versions) as never to move, yet the registry would let them be overwritten.',
    help: `Extend the registry's immutability to these tags, or change the policy.\n${FIX_IMMUTABLE}`,
    defaultSeverity: 'medium',
  },
  {
    id: 'repository.protection_changed',
    name: 'RepositoryProtectionChanged',
    short: 'The repository\'s tag-immutability settings changed.',
    full: 'The registry reports different tag-immutability settings than in the previous scan; a weakened setting leaves tags open to being overwritten.',
    help: `If the change was not intended, restore the previous settings (the finding shows both).\n${FIX_IMMUTABLE}`,
    defaultSeverity: 'low',
  },
  {
    id: 'target.scan_failed',
    name: 'TargetScanFailed',
    short: 'A registry could not be scanned several times in a row.',
    full: 'tagledger failed to read this registry in consecutive scans, so changes there go unnoticed until it can read it again.',
    help: 'Check the registry credentials, network access and the scan errors (tagledger scan --target TARGET).',
    defaultSeverity: 'high',
  },
  {
    id: 'harbor.verdict_mismatch',
    name: 'HarborVerdictMismatch',
    short: 'Harbor\'s own immutable flag disagrees with tagledger\'s reading of the rules.',
    full: 'For some tags Harbor reports a different immutable flag than tagledger computes from the project\'s immutable-tag rules: either a rule is misread or Harbor behaves unexpectedly.',
    help: 'Check the project\'s immutable-tag rules in Harbor; report the case with the rules attached.',
    defaultSeverity: 'medium',
  },
];

export function ruleFor(type: string): FindingRule | undefined {
  return FINDING_RULES.find((r) => r.id === type);
}
