/**
 * Loads the one YAML config file: `--config`, else `TAGLEDGER_CONFIG`, else `./tagledger.yaml`.
 * Errors name the path of the bad value and never echo secret values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { configSchema, targetSchema, type Config } from './schema.js';
import { interpolateTree, InterpolationError } from './interpolate.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = './tagledger.yaml';

export function configPath(explicit: string | undefined, env = process.env): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  if (env.TAGLEDGER_CONFIG) return { path: env.TAGLEDGER_CONFIG, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

export interface LoadedConfig {
  config: Config;
  path: string | null;
}

/**
 * Reads and validates the config. When `optional` and no file was named and the default file is
 * absent, returns the defaults (an empty target list, the embedded database).
 */
export function loadConfig(explicit: string | undefined, opts: { optional?: boolean; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const { path, explicit: named } = configPath(explicit, env);
  if (!existsSync(path)) {
    if (opts.optional && !named) return { config: configSchema.parse({}), path: null };
    throw new ConfigError(`config file ${path} not found${named ? '' : ' (pass --config FILE or set TAGLEDGER_CONFIG)'}`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return { config: parseConfig(text, { env, baseDir: dirname(resolve(path)), source: path }), path };
}

export function parseConfig(text: string, opts: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {}): Config {
  const source = opts.source ?? 'config';
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new ConfigError(`${source}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the top level must be a mapping (database, targets, ...)`);
  let resolved: unknown;
  try {
    resolved = interpolateTree(raw, { env: opts.env ?? process.env, baseDir: opts.baseDir ?? process.cwd() }, '');
  } catch (err) {
    if (err instanceof InterpolationError) throw new ConfigError(err.message);
    throw err;
  }
  const result = configSchema.safeParse(resolved);
  if (!result.success) throw new ConfigError(formatIssues(result.error, resolved));
  return result.data;
}

export function formatIssues(error: z.ZodError, input: unknown): string {
  const lines = error.issues.slice(0, 10).map((issue) => {
    const path = formatPath(issue.path);
    let message = issue.message;
    // zod reports an unknown discriminator as "Invalid discriminator value" on the `kind` path.
    if ((issue.code === 'invalid_union' || issue.code === 'invalid_value') && issue.path[0] === 'targets' && issue.path[issue.path.length - 1] === 'kind') {
      message = `unknown kind ${JSON.stringify(valueAt(input, issue.path))} (one of: ${targetKinds().join(', ')})`;
    } else if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
      // zod says "expected string, received undefined": the field is simply missing.
      message = `required (${issue.expected}), but missing`;
    }
    return `${path || '(root)'}: ${message}`;
  });
  if (error.issues.length > 10) lines.push(`... and ${error.issues.length - 10} more`);
  return lines.join('\n');
}

function targetKinds(): string[] {
  return targetSchema.options.map((o) => o.shape.kind.value);
}

export function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const p of path) {
    if (cur && typeof cur === 'object') cur = (cur as Record<PropertyKey, unknown>)[p];
    else return undefined;
  }
  return cur;
}

const SECRET_KEY = /(password|secret|token|externalid|apikey|privatekey)$/i;

const SECRET_HEADER = /(authorization|token|secret|key|cookie|signature|password)/i;

/** The config with secret values replaced by `***`, for printing. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string' && SECRET_KEY.test(key)) return value ? '***' : value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    // A Slack incoming-webhook URL is itself the credential.
    if (obj.kind === 'slack' && typeof obj.url === 'string') {
      return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k === 'url' ? maskUrlPath(v as string) : maskSecrets(v, k)]));
    }
    if (key === 'headers') {
      return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, SECRET_HEADER.test(k) && typeof v === 'string' ? '***' : v]));
    }
  }
  // Connection strings carry passwords too: postgres://user:***@host/db
  if (typeof value === 'string') return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):[^@/\s]+@/i, '$1:***@');
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  return value;
}

function maskUrlPath(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '***';
  }
}
