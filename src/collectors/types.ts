import type { ProtectionSettings } from '../audit/protection.js';

/** The registry kinds tagledger can audit. */
export type CollectorKind = 'ecr' | 'gar' | 'harbor' | 'oci';

/** One tag as a registry reports it, in a complete listing of its repository. */
export interface TagObservation {
  tag: string;
  /** Content digest of the manifest the tag points at (`sha256:<hex>`). */
  digest: string;
  mediaType: string | null;
  /** When the registry says the tag (or its image) was pushed; null where it does not say. */
  pushedAt: Date | null;
  /**
   * Kind-specific facts worth keeping as evidence, e.g. ECR `imageStatus`, Harbor's own `immutable`
   * flag, GAR `updateTime`. Stored as jsonb; small and JSON-serialisable.
   */
  extra?: Record<string, unknown>;
}

/** Everything a collector learned about one repository, complete or not at all. */
export interface RepositoryObservation {
  /** Stable name within the target (OCI/ECR name, Harbor `project/repo`, GAR `location/repo/image`). */
  repository: string;
  /** `host[:port]/path` as image references spell it. */
  pullReference: string;
  /** Normalised "can a tag be overwritten?" settings, evaluated per tag by `protectionFor`. */
  protection: ProtectionSettings;
  /** The COMPLETE tag list. A collector that could not list every tag yields an error instead. */
  tags: TagObservation[];
  /** Vendor settings as read, kept as jsonb evidence. Must not contain secrets. */
  raw?: unknown;
}

export type RepositoryErrorCode =
  /** 401/403/404 or the vendor's equivalent on one repository: recorded and skipped. */
  | 'denied'
  /** The repository could not be read completely (network, 5xx after retries, malformed data). */
  | 'failed'
  /** Listed by the catalog but gone when read: a warning, not a failure. */
  | 'vanished';

export type RepositoryResult =
  | { kind: 'observed'; observation: RepositoryObservation }
  | {
      kind: 'error';
      /** null: a target-level failure (catalog, authentication, registry down). */
      repository: string | null;
      code: RepositoryErrorCode;
      /** Human-readable cause. Must never contain credentials. */
      cause: string;
    }
  /** Optional progress hint: how many repositories the collector has found so far (cumulative). */
  | { kind: 'discovered'; repositories: number }
  /**
   * Always the last item. `complete: true` only when the repository listing (catalog) was read whole,
   * so that the store may call a repository missing from it "gone".
   */
  | { kind: 'listing'; complete: boolean };

/** A collector only reads. It never touches the database and never decides what is a finding. */
export interface Collector {
  readonly kind: CollectorKind;
  readonly targetId: string;
  collect(signal: AbortSignal): AsyncIterable<RepositoryResult>;
  /** Releases sockets, clients and timers. Optional. */
  close?(): Promise<void>;
}
