/**
 * What `check` reads: files, folders (walked recursively, picking files by name) and `-` for stdin.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import type { ExtractResult } from './sources/types.js';
import { extractYaml } from './sources/yaml.js';
import { dockerfileSites } from './sources/dockerfile.js';

export type InputKind = 'yaml' | 'compose' | 'dockerfile';

export interface CheckInput {
  /** How the file is named in output: the path as given (forward slashes), or `-` for stdin. */
  file: string;
  /** Where to write a pinned version back; null for stdin. */
  path: string | null;
  text: string;
  kind: InputKind;
}

export class CheckInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckInputError';
  }
}

/** Folders never worth walking into. */
const SKIPPED_FOLDERS = new Set(['.git', 'node_modules']);

export function isDockerfileName(name: string): boolean {
  return /^(docker|container)file/i.test(name) || /\.(docker|container)file$/i.test(name);
}

export function isComposeName(name: string): boolean {
  return /^(docker-)?compose.*\.ya?ml$/i.test(name);
}

/** Files a folder walk picks up. */
export function isCheckedName(name: string): boolean {
  return isDockerfileName(name) || /\.ya?ml$/i.test(name);
}

export function kindOf(name: string): InputKind {
  if (isDockerfileName(name)) return 'dockerfile';
  return isComposeName(name) ? 'compose' : 'yaml';
}

/** Reads every PATH in order; folders contribute their matching files sorted by path. */
export async function collectInputs(paths: string[], readStdin: () => Promise<string>): Promise<CheckInput[]> {
  const inputs: CheckInput[] = [];
  let stdinRead = false;
  for (const p of paths) {
    if (p === '-') {
      if (stdinRead) throw new CheckInputError('"-" (standard input) is given more than once');
      stdinRead = true;
      inputs.push({ file: '-', path: null, text: await readStdin(), kind: 'yaml' });
      continue;
    }
    let stat;
    try {
      stat = statSync(p);
    } catch {
      throw new CheckInputError(`${p}: no such file or folder`);
    }
    if (stat.isDirectory()) {
      for (const file of walk(p)) inputs.push(readInput(file, kindOf(basename(file))));
    } else {
      inputs.push(readInput(p, kindOf(basename(p))));
    }
  }
  return inputs;
}

function readInput(path: string, kind: InputKind): CheckInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CheckInputError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return { file: path.split(sep).join('/'), path, text, kind };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    // Symlinked folders are not followed (no loops); symlinked files are read.
    if (e.isDirectory()) {
      if (!SKIPPED_FOLDERS.has(e.name)) out.push(...walk(full));
    } else if ((e.isFile() || e.isSymbolicLink()) && isCheckedName(e.name)) {
      if (e.isSymbolicLink()) {
        try {
          if (!statSync(full).isFile()) continue;
        } catch {
          continue;
        }
      }
      out.push(full);
    }
  }
  return out;
}

export function extractInput(input: CheckInput): ExtractResult & { syntaxErrors: number } {
  if (input.kind === 'dockerfile') return { ...dockerfileSites(input.text), syntaxErrors: 0 };
  return extractYaml(input.text, { compose: input.kind === 'compose' });
}
