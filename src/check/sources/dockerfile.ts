/**
 * Dockerfiles (https://docs.docker.com/reference/dockerfile/): every `FROM` of a multi-stage build and
 * every `COPY --from=` that names an image rather than a stage.
 *
 * - `FROM [--platform=<p>] <image> [AS <name>]`; a later `FROM <name>` or `COPY --from=<name>`
 *   refers to that stage, not to an image (stage names are case-insensitive); `scratch` is no image.
 * - A reference using `$VAR`/`${VAR}` depends on build args
 *   (https://docs.docker.com/reference/dockerfile/#understand-how-arg-and-from-interact): reported as
 *   unresolved with the ARG's default, never guessed.
 * - Lines continue with the escape character (`\`, or a backtick after a `# escape=` directive,
 *   https://docs.docker.com/reference/dockerfile/#escape); comment lines inside a continued
 *   instruction are dropped; heredoc bodies (`RUN <<EOF`) are skipped.
 *
 * Every reference keeps its offsets in the file, so a pin edits that token on its line only.
 */
import type { ExtractResult, ImageSite } from './types.js';

interface LogicalLine {
  /** The instruction with continuations joined (escape + newline removed). */
  text: string;
  /** File offset of each character of `text`. */
  offsets: number[];
}

export function dockerfileSites(text: string): ExtractResult {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const positionOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo] + 1 };
  };

  const sites: ImageSite[] = [];
  const globalArgs = new Map<string, string | null>();
  const stages: string[] = [];
  let seenFrom = false;

  for (const instruction of logicalLines(text, lineStarts)) {
    const tokens = tokenize(instruction);
    if (!tokens.length) continue;
    const keyword = tokens[0].text.toUpperCase();

    if (keyword === 'ARG' && !seenFrom) {
      for (const t of tokens.slice(1)) {
        const eq = t.text.indexOf('=');
        globalArgs.set(eq < 0 ? t.text : t.text.slice(0, eq), eq < 0 ? null : unquote(t.text.slice(eq + 1)));
      }
      continue;
    }

    if (keyword === 'FROM') {
      seenFrom = true;
      const stageIndex = stages.length;
      let i = 1;
      let platform: string | null = null;
      for (; i < tokens.length && tokens[i].text.startsWith('--'); i++) {
        const m = /^--platform=(.*)$/i.exec(tokens[i].text);
        if (m) platform = m[1];
      }
      const image = tokens[i];
      const as = tokens[i + 1]?.text.toUpperCase() === 'AS' ? tokens[i + 2]?.text : undefined;
      stages.push((as ?? '').toLowerCase());
      if (!image) continue;
      const lower = image.text.toLowerCase();
      if (lower === 'scratch' || stages.slice(0, stageIndex).includes(lower)) continue;
      const context = `FROM${platform ? ` --platform=${platform}` : ''} (stage ${as ? `"${as}"` : stageIndex})`;
      sites.push(site(image, context));
      continue;
    }

    if (keyword === 'COPY') {
      for (const t of tokens.slice(1)) {
        if (!t.text.startsWith('--')) break;
        const m = /^--from=(.*)$/i.exec(t.text);
        if (!m) continue;
        const from = m[1];
        // A stage name or a stage's index, or else an image.
        if (/^\d+$/.test(from) || stages.includes(from.toLowerCase())) continue;
        const start = t.start + '--from='.length;
        sites.push(site({ text: from, start, offsets: t.offsets.slice('--from='.length) }, 'COPY --from'));
      }
    }
  }
  return { sites, problems: [] };

  function site(token: Token, context: string): ImageSite {
    const first = token.offsets[0];
    const last = token.offsets[token.offsets.length - 1];
    // A token split over a continued line cannot be replaced as one range.
    const contiguous = last - first === token.offsets.length - 1;
    const s: ImageSite = {
      source: 'dockerfile',
      ...positionOf(first),
      value: token.text,
      range: contiguous ? [first, last + 1] : null,
      style: contiguous ? 'dockerfile' : null,
      context,
    };
    const variables = buildArgs(token.text);
    if (variables.length) {
      const described = variables.map((v) => {
        if (!globalArgs.has(v)) return `${v} (not declared by an ARG before the first FROM)`;
        const d = globalArgs.get(v);
        return d === null ? `${v} (no default)` : `${v} (default "${d}")`;
      });
      s.unresolved = `uses build arg${variables.length > 1 ? 's' : ''} ${described.join(', ')}; build args are not resolved`;
    }
    return s;
  }
}

/** Variable names in a Dockerfile word (`$VAR`, `${VAR}`, `${VAR:-default}`). */
function buildArgs(word: string): string[] {
  const names: string[] = [];
  const re = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))/g;
  for (let m = re.exec(word); m; m = re.exec(word)) {
    const name = m[1] ?? m[2];
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

function unquote(value: string): string {
  return /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
}

interface Token {
  text: string;
  start: number;
  offsets: number[];
}

function tokenize(line: LogicalLine): Token[] {
  const tokens: Token[] = [];
  const re = /\S+/g;
  for (let m = re.exec(line.text); m; m = re.exec(line.text)) {
    const offsets = line.offsets.slice(m.index, m.index + m[0].length);
    tokens.push({ text: m[0], start: offsets[0], offsets });
  }
  return tokens;
}

/** Instructions with their continuations joined, comments and heredoc bodies left out. */
function* logicalLines(text: string, lineStarts: number[]): Generator<LogicalLine> {
  const lines = lineStarts.map((start, i) => {
    const end = i + 1 < lineStarts.length ? lineStarts[i + 1] - 1 : text.length;
    const raw = text.slice(start, end);
    return { start, raw: raw.endsWith('\r') ? raw.slice(0, -1) : raw };
  });

  // Parser directives: `# key=value` lines at the very top, before any other line.
  let escape = '\\';
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(lines[i].raw);
    if (!m) break;
    if (m[1].toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escape = m[2];
  }

  let current: LogicalLine | null = null;
  let heredocs: Array<{ word: string; stripTabs: boolean }> = [];
  for (; i < lines.length; i++) {
    const { start, raw } = lines[i];
    if (heredocs.length) {
      const h = heredocs[0];
      if ((h.stripTabs ? raw.replace(/^\t+/, '') : raw) === h.word) heredocs.shift();
      continue;
    }
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) continue;
    if (current === null && trimmed === '') continue;
    const body = raw.replace(/\s+$/, '');
    const continues = body.endsWith(escape);
    const content = continues ? body.slice(0, -1) : body;
    const piece = { text: content, offsets: Array.from({ length: content.length }, (_, k) => start + k) };
    if (current === null) current = piece;
    else {
      current.text += piece.text;
      current.offsets.push(...piece.offsets);
    }
    if (continues) continue;
    // Heredocs belong to RUN, COPY and ADD (https://docs.docker.com/reference/dockerfile/#here-documents).
    if (/^\s*(RUN|COPY|ADD)\s/i.test(current.text)) {
      for (const m of current.text.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) heredocs.push({ word: m[3], stripTabs: m[1] === '-' });
    }
    yield current;
    current = null;
  }
  if (current) yield current;
}
