/** `tagledger config check`: validate the config and print it resolved, secrets masked. */
import YAML from 'yaml';
import { loadConfig, maskSecrets } from '../config/load.js';
import { describeDatabase, resolveDatabaseTarget } from '../store/db.js';

export function configCheck(path: string | undefined, json: boolean): string {
  const { config, path: file } = loadConfig(path);
  const masked = maskSecrets(config);
  const database = describeDatabase(resolveDatabaseTarget(config.database));
  if (json) return JSON.stringify({ file, database, config: masked }, null, 2);
  return `# ${file}: valid, ${config.targets.length} target(s); database: ${database}\n${YAML.stringify(masked)}`;
}
