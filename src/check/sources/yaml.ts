/**
 * YAML files: every document of a multi-document stream (`helm template` output, `kubectl get -o
 * yaml`), read with the `yaml` package's Document API so each value keeps its source range and
 * style. Positions come from a LineCounter; a pin edits the file text at a node's range, so comments
 * and formatting everywhere else stay byte for byte.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { ExtractResult, ImageSite, SourceProblem, ValueStyle } from './types.js';
import { kubernetesSites } from './kubernetes.js';
import { composeSites } from './compose.js';

export type YamlDocument = Document.Parsed;

export interface YamlContext {
  doc: YamlDocument;
  lineCounter: LineCounter;
}

/**
 * Reads every document; one with a syntax error is reported with its position and skipped (the
 * others are still read). `compose`: the file name says it is a Compose file.
 */
export function extractYaml(text: string, opts: { compose?: boolean } = {}): ExtractResult & { syntaxErrors: number } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const sites: ImageSite[] = [];
  const problems: SourceProblem[] = [];
  // parseAllDocuments returns an EmptyStream (an array with no documents) for an empty file.
  for (const doc of Array.from(docs) as YamlDocument[]) {
    if (doc.errors.length) {
      const e = doc.errors[0];
      const pos = lineCounter.linePos(e.pos[0]);
      problems.push({ line: pos.line, column: pos.col, message: `YAML syntax error: ${firstLine(e.message)}` });
      continue;
    }
    const ctx = { doc, lineCounter };
    const root = resolve(ctx, doc.contents as Node | null);
    if (!isMap(root)) continue;
    const looksLikeKubernetes = mapValue(ctx, root, 'kind') !== undefined && mapValue(ctx, root, 'apiVersion') !== undefined;
    if (opts.compose || (!looksLikeKubernetes && isMap(resolve(ctx, mapValue(ctx, root, 'services'))))) sites.push(...composeSites(ctx, root));
    else if (looksLikeKubernetes) sites.push(...kubernetesSites(ctx, root));
  }
  return { sites, problems, syntaxErrors: problems.length };
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}

/** Follows an alias to its anchored node. */
export function resolve(ctx: YamlContext, node: Node | null | undefined): Node | undefined {
  if (node == null) return undefined;
  if (isAlias(node)) return (node.resolve(ctx.doc) as Node | undefined) ?? undefined;
  return node;
}

/**
 * The value of `key` in a mapping, following YAML merge keys (`<<: *defaults`, common in Compose
 * files) when the mapping does not set it itself. The node is returned unresolved (an alias stays one).
 */
export function mapValue(ctx: YamlContext, map: Node | undefined, key: string, depth = 0): Node | undefined {
  if (!isMap(map) || depth > 10) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === key) return (pair.value as Node | null) ?? undefined;
  }
  for (const pair of map.items) {
    if (!isScalar(pair.key) || pair.key.value !== '<<') continue;
    const target = resolve(ctx, pair.value as Node | null);
    const sources = isSeq(target) ? target.items.map((i) => resolve(ctx, i as Node)) : [target];
    for (const source of sources) {
      const found = mapValue(ctx, source, key, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** A scalar's string value, or undefined. */
export function stringValue(ctx: YamlContext, node: Node | undefined): string | undefined {
  const n = resolve(ctx, node);
  return isScalar(n) && typeof n.value === 'string' ? n.value : undefined;
}

/** The pairs of a mapping as [key, value node], merge keys left out. */
export function entries(ctx: YamlContext, map: Node | undefined): Array<[string, Node | undefined]> {
  const m = resolve(ctx, map);
  if (!isMap(m)) return [];
  const out: Array<[string, Node | undefined]> = [];
  for (const pair of m.items) {
    if (!isScalar(pair.key) || pair.key.value === '<<') continue;
    out.push([String(pair.key.value), (pair.value as Node | null) ?? undefined]);
  }
  return out;
}

export function position(ctx: YamlContext, offset: number): { line: number; column: number } {
  const p = ctx.lineCounter.linePos(offset);
  return { line: p.line, column: p.col };
}

const STYLES: Record<string, ValueStyle> = { PLAIN: 'plain', QUOTE_SINGLE: 'single-quoted', QUOTE_DOUBLE: 'double-quoted' };

/**
 * An image site for the node holding a reference. An alias reports (and pins) the anchored value,
 * where the reference is actually written. `at` positions a missing or empty value.
 */
export function imageSite(ctx: YamlContext, node: Node | undefined, base: Pick<ImageSite, 'source' | 'context'>, at: number): ImageSite {
  const target = resolve(ctx, node);
  const via = isAlias(node) ? ` (through alias *${node.source})` : '';
  const context = base.context + via;
  if (!target || !target.range) {
    return { ...base, context, ...position(ctx, at), value: '', range: null, style: null, error: 'empty image value' };
  }
  const start = target.range[0];
  const pos = position(ctx, start);
  if (!isScalar(target)) {
    return { ...base, context, ...pos, value: '', range: null, style: null, error: `image is a ${isMap(target) ? 'mapping' : 'sequence'}, not a string` };
  }
  if (target.value === null || target.value === '') {
    return { ...base, context, ...pos, value: '', range: null, style: null, error: 'empty image value' };
  }
  if (typeof target.value !== 'string') {
    return { ...base, context, ...pos, value: String(target.value), range: null, style: null, error: `image is a ${typeof target.value}, not a string` };
  }
  const style = STYLES[target.type ?? ''] ?? null;
  return { ...base, context, ...pos, value: target.value, range: style ? [start, target.range[1]] : null, style };
}
