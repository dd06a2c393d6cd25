/**
 * Harbor's webhooks, as the emulator sends them: one POST per event to the policy's address, with
 * `Content-Type: application/json` and the policy's `auth_header` as the `Authorization` header.
 *
 * The payload follows Harbor's artifact handler (src/controller/event/handler/webhook/artifact/artifact.go)
 * and its notifier model (src/pkg/notifier/model/event.go): one resource naming the artifact's digest
 * and only its FIRST tag (the digest again when it has none), `resource_url` as
 * `<host>/<repository>:<tag>` (or `@<digest>`), `repository.name` without the project.
 * https://goharbor.io/docs/main/working-with-projects/project-configuration/configure-webhooks/
 *
 * Harbor sends artifact webhooks for PUSH_ARTIFACT, PULL_ARTIFACT and DELETE_ARTIFACT only: deleting
 * a tag sends nothing, and neither does the emulator. Delivery is one attempt here (Harbor's job
 * service retries a failed one up to 3 times); every attempt is kept in `deliveries`.
 */

export type HarborWebhookType = 'PUSH_ARTIFACT' | 'DELETE_ARTIFACT';

export interface HarborWebhookEvent {
  type: HarborWebhookType;
  /** Full name, project first: `team-a/checkout/api`. */
  repository: string;
  digest: string;
  /** The artifact's tags; the payload names the first only. */
  tags: string[];
  public: boolean;
  operator: string;
  at: Date;
  /** Harbor's external host, for `resource_url`. */
  host: string;
}

/** The JSON body Harbor posts for one event. */
export function harborWebhookPayload(e: HarborWebhookEvent) {
  const slash = e.repository.indexOf('/');
  const reference = e.tags[0] ?? e.digest;
  const resourceUrl = `${e.host}/${e.repository}${e.tags[0] ? `:${e.tags[0]}` : `@${e.digest}`}`;
  return {
    type: e.type,
    occur_at: Math.floor(e.at.getTime() / 1000),
    operator: e.operator,
    event_data: {
      resources: [{ digest: e.digest, tag: reference, resource_url: resourceUrl }],
      repository: {
        date_created: Math.floor(e.at.getTime() / 1000),
        name: e.repository.slice(slash + 1),
        namespace: e.repository.slice(0, slash),
        repo_full_name: e.repository,
        repo_type: e.public ? 'public' : 'private',
      },
    },
  };
}

export interface HarborWebhookPolicy {
  /** Where to POST (`address` in Harbor's policy). */
  url: string;
  /** Sent as the Authorization header when set (`auth_header`). */
  authHeader?: string;
}

export interface HarborWebhookDelivery {
  type: HarborWebhookType;
  repository: string;
  tag: string | null;
  digest: string;
  /** The receiver's status, or null when the request failed. */
  status: number | null;
  error: string | null;
}

export class HarborWebhookSender {
  readonly deliveries: HarborWebhookDelivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(public policy: HarborWebhookPolicy | null) {}

  send(e: HarborWebhookEvent): void {
    const policy = this.policy;
    if (!policy) return;
    const body = JSON.stringify(harborWebhookPayload(e));
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (policy.authHeader) headers.Authorization = policy.authHeader;
    const record = (status: number | null, error: string | null): void => {
      this.deliveries.push({ type: e.type, repository: e.repository, tag: e.tags[0] ?? null, digest: e.digest, status, error });
    };
    const p: Promise<void> = fetch(policy.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) })
      .then(async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        record(res.status, res.ok ? null : `HTTP ${res.status}`);
      })
      .catch((err: unknown) => record(null, err instanceof Error ? err.message : String(err)))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves once every webhook sent so far has been answered (or failed). */
  async flush(): Promise<HarborWebhookDelivery[]> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    return this.deliveries;
  }
}
