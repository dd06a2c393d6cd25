/**
 * JSON bodies as Harbor's go-swagger models serialise them (definitions of api/v2.0/swagger.yaml).
 *
 * go-swagger tags every field `omitempty` unless the swagger says `x-omitempty: false`, so zero
 * values (`false`, `0`, `""`, nil lists and maps) are left out: an enabled rule has no `disabled`, a
 * rule's `priority` 0 is absent, `Tag.immutable` and `Repository.pull_count` are always present.
 * Times are `strfmt.DateTime` (RFC 3339 with milliseconds); Go's zero time stands for "never".
 */
import type { EmulatorArtifact, EmulatorProject, EmulatorRepository, EmulatorRule, EmulatorTag } from './estate.js';
import type { EmulatorSelector } from './match.js';

const ZERO_TIME = '0001-01-01T00:00:00.000Z';
/** The default icon Harbor reports for images (src/controller/icon). */
const IMAGE_ICON = 'sha256:0048162a053eef4d4ce3fe7518615bef084403614f8bca43b40ae2e762e11e06';

function time(d: Date): string {
  return d.toISOString();
}

/** Drops go-swagger's omitempty zero values. */
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== 0 && v !== false && !(Array.isArray(v) && v.length === 0)),
  );
}

export function projectJson(p: EmulatorProject, repoCount: number): Record<string, unknown> {
  return {
    ...omitEmpty({
      project_id: p.id,
      owner_id: 1,
      name: p.name,
      creation_time: time(p.createdAt),
      update_time: time(p.updatedAt),
      owner_name: 'admin',
    }),
    repo_count: repoCount, // x-omitempty: false
    metadata: { public: String(p.public) },
    cve_allowlist: omitEmpty({ id: p.id, project_id: p.id, creation_time: time(p.createdAt), update_time: time(p.updatedAt) }),
  };
}

function selectorJson(s: EmulatorSelector): Record<string, unknown> {
  return omitEmpty({ kind: s.kind, decoration: s.decoration, pattern: s.pattern });
}

export function ruleJson(r: EmulatorRule): Record<string, unknown> {
  const scope: Record<string, unknown> = {};
  // A map value is never omitted: an empty selector list is serialised as null.
  for (const [k, v] of Object.entries(r.scopeSelectors)) scope[k] = v.length ? v.map(selectorJson) : null;
  return omitEmpty({
    id: r.id,
    priority: r.priority,
    disabled: r.disabled,
    action: r.action,
    template: r.template,
    tag_selectors: r.tagSelectors.map(selectorJson),
    scope_selectors: Object.keys(scope).length ? scope : undefined,
  });
}

export function repositoryJson(r: EmulatorRepository, artifactCount: number): Record<string, unknown> {
  return {
    ...omitEmpty({ id: r.id, project_id: r.projectId, name: r.name }),
    artifact_count: artifactCount, // x-omitempty: false
    pull_count: 0, // x-omitempty: false
    creation_time: time(r.createdAt),
    update_time: time(r.updatedAt),
  };
}

export function tagJson(t: EmulatorTag, immutable: boolean): Record<string, unknown> {
  return {
    ...omitEmpty({ id: t.id, repository_id: t.repositoryId, artifact_id: t.artifactId, name: t.name }),
    push_time: time(t.pushTime),
    pull_time: ZERO_TIME,
    immutable, // x-omitempty: false
  };
}

export function artifactJson(a: EmulatorArtifact, repository: EmulatorRepository, tags: Record<string, unknown>[], additionBase: string): Record<string, unknown> {
  return {
    ...omitEmpty({
      id: a.id,
      type: 'IMAGE',
      media_type: a.mediaType,
      manifest_media_type: a.manifestMediaType,
      project_id: repository.projectId,
      repository_id: repository.id,
      repository_name: repository.name,
      digest: a.digest,
      size: a.size,
      icon: IMAGE_ICON,
    }),
    push_time: time(a.pushTime),
    pull_time: ZERO_TIME,
    ...(tags.length ? { tags } : {}),
    addition_links: {
      build_history: { href: `${additionBase}/${a.digest}/additions/build_history`, absolute: false },
      vulnerabilities: { href: `${additionBase}/${a.digest}/additions/vulnerabilities`, absolute: false },
    },
  };
}

/** `{"errors":[{"code":"FORBIDDEN","message":"forbidden"}]}` (src/lib/errors of goharbor/harbor). */
export function errorsJson(code: string, message: string): Record<string, unknown> {
  return { errors: [{ code, message }] };
}
