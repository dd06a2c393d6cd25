import { z } from 'zod';
import { durationSchema } from '../config/common.js';

/**
 * `targets[].events`: push events from the registry (Harbor webhooks, ECR events through an
 * EventBridge API destination, Artifact Registry notifications through a Pub/Sub push subscription)
 * make `serve` scan the repository that changed right away. Without this block the target takes none.
 */
export const pushEventsSchema = z
  .object({
    /**
     * The shared secret the registry presents: Harbor's webhook `auth_header`, the EventBridge
     * connection's API key, or the Pub/Sub push endpoint's `token`. Compared in constant time.
     */
    secret: z.string().min(16, 'must be at least 16 characters (a long random value, e.g. from `openssl rand -hex 32`)'),
    /** Events for one repository within this long make one scan (default 3s). */
    debounce: durationSchema.optional(),
  })
  .strict();

export type PushEventsConfig = z.infer<typeof pushEventsSchema>;

export const DEFAULT_DEBOUNCE = '3s';
