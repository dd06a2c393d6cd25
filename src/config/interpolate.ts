/**
 * `${VAR}`, `${VAR:-default}` and `${file:PATH}` in config string values. A `$` not followed by `{`
 * stays literal (`robot$audit`); `$$` is one literal `$` (so `$${VAR}` stays `${VAR}`). A mapping
 * value that interpolates to the empty string is left out, as if it were not written.
 * Works on the parsed YAML tree, so a value can never break the YAML around it and errors can name
 * the exact path.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export class InterpolationError extends Error {}

export interface InterpolationContext {
  env: NodeJS.ProcessEnv;
  /** Relative `${file:...}` paths resolve against this directory (the config file's). */
  baseDir: string;
}

export function interpolateTree(value: unknown, ctx: InterpolationContext, path: string): unknown {
  if (typeof value === 'string') return interpolateString(value, ctx, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, ctx, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = interpolateTree(v, ctx, path ? `${path}.${k}` : k);
      // `key: ${VAR:-}` with VAR unset means "no value": the key is left out, so optional settings
      // can be switched on from the environment without a second config file.
      if (resolved === '' && typeof v === 'string' && v.includes('${')) continue;
      out[k] = resolved;
    }
    return out;
  }
  return value;
}

export function interpolateString(input: string, ctx: InterpolationContext, path: string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next !== '{') {
      out += '$';
      i++;
      continue;
    }
    const end = input.indexOf('}', i + 2);
    if (end === -1) throw new InterpolationError(`${path || '(root)'}: unterminated "\${" (write "$$" for a literal "$")`);
    out += resolveExpression(input.slice(i + 2, end), ctx, path);
    i = end + 1;
  }
  return out;
}

function resolveExpression(expr: string, ctx: InterpolationContext, path: string): string {
  const where = path || '(root)';
  if (expr.startsWith('file:')) {
    const file = expr.slice(5).trim();
    if (!file) throw new InterpolationError(`${where}: \${file:} needs a path`);
    const full = isAbsolute(file) ? file : resolve(ctx.baseDir, file);
    try {
      // One trailing newline is trimmed: secrets files written by `echo` or editors end with one.
      return readFileSync(full, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new InterpolationError(`${where}: cannot read secret file ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(expr);
  if (!m) throw new InterpolationError(`${where}: "\${${expr}}" is not a valid reference (use \${VAR}, \${VAR:-default} or \${file:PATH})`);
  const [, name, fallback] = m;
  const value = ctx.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  if (value === '') return '';
  throw new InterpolationError(`${where}: environment variable ${name} is not set (use \${${name}:-default} for a default)`);
}
