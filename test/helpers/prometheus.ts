/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), enough to prove that
 * /metrics is well-formed: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * Throws on any line that is not a comment, HELP, TYPE or a valid sample of a declared family.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of one sample, or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a line feed');
  lines.forEach((line, i) => {
    const where = `line ${i + 1} (${JSON.stringify(line.slice(0, 80))})`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      if (!METRIC.test(m[2])) throw new Error(`${where}: bad metric name`);
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3] ?? '')) throw new Error(`${where}: unknown type`);
        if (types.has(m[2])) throw new Error(`${where}: TYPE given twice`);
        if (samples.some((s) => familyOf(s.name, types) === m[2])) throw new Error(`${where}: TYPE after samples`);
        types.set(m[2], m[3]!);
      }
      return;
    }
    const sample = parseSample(line, where);
    if (!familyOf(sample.name, types)) throw new Error(`${where}: sample of an undeclared family`);
    samples.push(sample);
  });
  return {
    types,
    samples,
    value: (name, labels = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length >= Object.keys(labels).length)?.value,
  };
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count', '_created']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      if (types.get(base) === 'histogram' || types.get(base) === 'summary') return base;
    }
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i])) i++;
  const name = line.slice(0, i);
  if (!METRIC.test(name)) throw new Error(`${where}: bad metric name`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      if (eq < 0) throw new Error(`${where}: bad label`);
      const label = line.slice(i, eq);
      if (!LABEL.test(label)) throw new Error(`${where}: bad label name ${label}`);
      if (line[eq + 1] !== '"') throw new Error(`${where}: label value must be quoted`);
      let j = eq + 2;
      let value = '';
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\') {
          const next = line[++j];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else throw new Error(`${where}: bad escape`);
        } else value += line[j];
      }
      if (line[j] !== '"') throw new Error(`${where}: unterminated label value`);
      if (label in labels) throw new Error(`${where}: label ${label} given twice`);
      labels[label] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`${where}: expected , or }`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`${where}: expected " value [timestamp]" after the name and labels`);
  const parts = line.slice(i).trim().split(/ +/);
  if (parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected " value [timestamp]"`);
  const value = parseValue(parts[0]);
  if (value === null) throw new Error(`${where}: bad value`);
  if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value };
}

/**
 * Prometheus reads values with Go's strconv.ParseFloat, which matches NaN and Inf ignoring case
 * (https://pkg.go.dev/strconv#ParseFloat): prom-client writes `Nan`, which Prometheus accepts.
 */
function parseValue(v: string): number | null {
  if (/^\+?inf(inity)?$/i.test(v)) return Infinity;
  if (/^-inf(inity)?$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) return null;
  return Number(v);
}
