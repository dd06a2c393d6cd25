/**
 * The explicit registry of collector kinds: target config in, Collector out.
 */
import type { Logger } from 'pino';
import type { TargetConfig } from '../config/schema.js';
import type { Collector } from './types.js';
import { createOciCollector } from './oci/index.js';
import { createEcrCollector } from './ecr/index.js';
import { createGarCollector } from './gar/index.js';
import { createHarborCollector } from './harbor/index.js';

export interface CollectorContext {
  logger: Logger;
}

export function createCollector(target: TargetConfig, ctx: CollectorContext): Collector {
  switch (target.kind) {
    case 'oci':
      return createOciCollector(target, ctx);
    case 'ecr':
      return createEcrCollector(target, ctx);
    case 'gar':
      return createGarCollector(target, ctx);
    case 'harbor':
      return createHarborCollector(target, ctx);
  }
}
