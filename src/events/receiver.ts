/**
 * The intake of push events for `serve`'s API: which target takes events from which source, the
 * per-target secret, reading a delivery into claims, recording them, and queueing their scans.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema.js';
import type { Database } from '../store/db.js';
import { tokenMatches } from '../api/auth.js';
import { recordPushEvents, type NewPushEvent, type PushEventRow } from '../store/queries/push-events.js';
import { parseHarborWebhook, routeHarborClaims } from './harbor.js';
import { parseEcrEvent, routeEcrAction } from './ecr.js';
import { parseGarPush, routeGarNotification } from './gar.js';
import { InvalidPushEventError, type PushSource, type RoutedClaim } from './types.js';
import type { PushEventQueue } from './queue.js';
import type { PushEventsConfig } from './config.js';

export type EventTarget = TargetConfig & { events: PushEventsConfig };

/** What a delivery led to (the API answers it with 202). */
export interface IntakeResult {
  result: 'accepted' | 'duplicate' | 'ignored' | 'test';
  reason: string | null;
  /** The claims as recorded (`id` null for a test event: nothing is recorded). */
  events: Array<{ id: number | null } & Pick<PushEventRow, 'repository' | 'tag' | 'digest' | 'action' | 'status' | 'note'>>;
}

/** Secrets a request may present; any one of them matching authenticates it. */
export interface PresentedSecrets {
  /** The Authorization header: the bare secret (Harbor's auth_header) or `Bearer <secret>`. */
  authorization?: string;
  /** `X-Tagledger-Key` (an EventBridge connection's API key header). */
  key?: string;
  /** `?token=` (Pub/Sub push endpoints cannot send headers); GAR only. */
  token?: string;
}

export function presentedValues(p: PresentedSecrets): string[] {
  const out: string[] = [];
  const auth = p.authorization?.trim();
  if (auth) {
    out.push(auth);
    const bearer = /^bearer\s+(.+)$/i.exec(auth);
    if (bearer) out.push(bearer[1].trim());
  }
  if (p.key) out.push(p.key.trim());
  if (p.token) out.push(p.token);
  return out;
}

/** Constant-time (per value: both sides hashed, then timingSafeEqual); every presented value is compared. */
export function secretPresented(secret: string, p: PresentedSecrets): boolean {
  let ok = false;
  for (const value of presentedValues(p)) ok = tokenMatches(secret, value) || ok;
  return ok;
}

export class PushEventIntake {
  private readonly byId: Map<string, EventTarget>;

  constructor(
    private readonly opts: {
      db: Database;
      targets: TargetConfig[];
      queue: Pick<PushEventQueue, 'enqueue'>;
      logger: Logger;
      now?: () => Date;
    },
  ) {
    this.byId = new Map(opts.targets.filter((t): t is EventTarget => 'events' in t && t.events !== undefined).map((t) => [t.id, t]));
  }

  /** The target `id` when it is of the source's kind and takes push events; otherwise null. */
  target(source: PushSource, id: string): EventTarget | null {
    const t = this.byId.get(id);
    return t && t.kind === source ? t : null;
  }

  /** Why no target takes these events (for the log line; the answer does not tell which). */
  whyNot(source: PushSource, id: string): string {
    const t = this.opts.targets.find((x) => x.id === id);
    if (!t) return 'no such target in the config';
    if (t.kind !== source) return `the target is of kind ${t.kind}, not ${source}`;
    return 'the target has no events block (targets[].events.secret)';
  }

  /**
   * Reads an authenticated delivery, records its claims and queues their scans. Throws
   * InvalidPushEventError (nothing recorded) when the body is not a valid event of the source.
   */
  async accept(source: PushSource, target: EventTarget, body: Buffer, opts: { test?: boolean } = {}): Promise<IntakeResult> {
    const log = this.opts.logger.child({ component: 'push-events', target: target.id, source });
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new InvalidPushEventError('the body is not JSON');
    }
    const routed = this.read(source, target, json);
    if ('other' in routed) {
      log.info({ eventType: routed.other }, 'push event acknowledged and ignored: this event type changes no tag');
      return { result: 'ignored', reason: `event type ${routed.other} changes no tag`, events: [] };
    }
    if (opts.test) {
      log.info({ claims: routed.claims.length }, 'test push event received and read; nothing recorded');
      return { result: 'test', reason: 'a test event: read and authenticated, not recorded', events: routed.claims.map((r) => ({ id: null, repository: r.claim.repository, tag: r.claim.tag, digest: r.claim.digest, action: r.claim.action, status: r.ignored ? 'ignored' : 'received', note: r.ignored })) };
    }
    const events: NewPushEvent[] = routed.claims.map(({ claim, ignored }) => ({ ...claim, status: ignored ? 'ignored' : 'received', note: ignored }));
    const receivedAt = (this.opts.now ?? (() => new Date()))();
    const payloadSha256 = createHash('sha256').update(body).digest('hex');
    const { rows, duplicate } = await recordPushEvents(this.opts.db, { target: { id: target.id, kind: target.kind }, source, receivedAt, payloadSha256, events });
    if (duplicate) {
      log.info({ eventId: events[0]?.eventId }, 'push event redelivered: recorded before, nothing new');
      return { result: 'duplicate', reason: 'this delivery was recorded before', events: [] };
    }
    const byRepository = new Map<string, PushEventRow[]>();
    for (const row of rows) {
      if (row.status === 'ignored') {
        log.info({ pushEvent: row.id, repository: row.repository, reason: row.note }, 'push event acknowledged and ignored');
        continue;
      }
      byRepository.set(row.repository, [...(byRepository.get(row.repository) ?? []), row]);
    }
    for (const [repository, list] of byRepository) {
      log.info({ repository, pushEvents: list.map((r) => r.id), eventType: list[0].eventType }, 'push event recorded; repository queued for a scan');
      this.opts.queue.enqueue(
        target.id,
        repository,
        list.map((r) => ({ id: r.id, source, action: r.action as 'push' | 'delete', tag: r.tag, digest: r.digest })),
      );
    }
    const accepted = rows.some((r) => r.status === 'received');
    return {
      result: accepted ? 'accepted' : 'ignored',
      reason: accepted ? null : (rows[0]?.note ?? null),
      events: rows.map((r) => ({ id: r.id, repository: r.repository, tag: r.tag, digest: r.digest, action: r.action, status: r.status, note: r.note })),
    };
  }

  private read(source: PushSource, target: EventTarget, json: unknown): { claims: RoutedClaim[] } | { other: string } {
    switch (source) {
      case 'harbor': {
        const d = parseHarborWebhook(json);
        return d.kind === 'other' ? { other: d.eventType } : { claims: routeHarborClaims(target, d.claims) };
      }
      case 'ecr': {
        const d = parseEcrEvent(json);
        return d.kind === 'other' ? { other: d.eventType } : { claims: [routeEcrAction(target, d.action)] };
      }
      case 'gar': {
        const d = parseGarPush(json);
        return d.kind === 'other' ? { other: d.eventType } : { claims: [routeGarNotification(target, d.notification)] };
      }
    }
  }
}
