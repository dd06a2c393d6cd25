/** Builds the alerting pieces from the config. */
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/common.js';
import { createNotifier } from '../notifiers/index.js';
import type { Notifier } from '../notifiers/types.js';
import type { DispatchSettings } from './dispatcher.js';
import { alertingContext, type AlertingContext } from './evaluate.js';

export function dispatchSettings(config: Config): DispatchSettings {
  const a = config.alerts;
  return {
    maxAttempts: a.maxAttempts,
    maxAgeMs: parseDuration(a.maxAge),
    backoffInitialMs: parseDuration(a.backoff.initial),
    backoffMaxMs: parseDuration(a.backoff.max),
    timeoutMs: parseDuration(a.timeout),
  };
}

export function buildNotifiers(config: Config): Map<string, Notifier> {
  const timeoutMs = parseDuration(config.alerts.timeout);
  return new Map(config.notifiers.map((n) => [n.id, createNotifier(n, { timeoutMs })]));
}

export function alertingFromConfig(config: Config): AlertingContext {
  return alertingContext({ policy: config.policy, notifiers: config.notifiers, anchor: config.anchor, alerts: config.alerts });
}
