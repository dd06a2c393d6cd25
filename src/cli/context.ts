/** What most commands need: the config and an open database. */
import type { Logger } from 'pino';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { openDatabase, resolveDatabaseTarget, type OpenDatabase } from '../store/db.js';

export interface CommandContext extends LoadedConfig {
  database: OpenDatabase;
  logger: Logger;
}

export async function openContext(opts: { config?: string; configOptional?: boolean; logger: Logger; purpose: string }): Promise<CommandContext> {
  const loaded = loadConfig(opts.config, { optional: opts.configOptional });
  const target = resolveDatabaseTarget(loaded.config.database);
  const database = await openDatabase(target, { purpose: opts.purpose });
  opts.logger.debug({ database: database.description, config: loaded.path }, 'database open');
  return { ...loaded, database, logger: opts.logger };
}
