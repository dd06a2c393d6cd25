/**
 * The explicit registry of collector kinds: target config in, Collector out. Each kind's module
 * (and the vendor SDK behind it) is imported the first time a target of that kind is scanned, so a
 * process that reads only ECR never loads the Google SDK, and the other way round.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema.js';
import type { Collector, CollectorKind } from './types.js';

export interface CollectorContext {
  logger: Logger;
}

export type CollectorFactory = (target: TargetConfig, ctx: CollectorContext) => Collector;

/** The kind's collector factory, its module imported on first use. */
export async function loadCollectorFactory(kind: CollectorKind): Promise<CollectorFactory> {
  switch (kind) {
    case 'ecr':
      return (await import('./ecr/index.js')).createEcrCollector as CollectorFactory;
    case 'gar':
      return (await import('./gar/index.js')).createGarCollector as CollectorFactory;
    case 'harbor':
      return (await import('./harbor/index.js')).createHarborCollector as CollectorFactory;
    case 'oci':
      return (await import('./oci/index.js')).createOciCollector as CollectorFactory;
  }
}

export async function createCollector(target: TargetConfig, ctx: CollectorContext): Promise<Collector> {
  return (await loadCollectorFactory(target.kind))(target, ctx);
}
