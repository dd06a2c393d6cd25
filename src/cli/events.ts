/**
 * `tagledger events test TARGET [--url URL]`: sends a sample event, in the target's registry's format
 * and signed with its `events.secret`, to a running `serve`, marked as a test: serve authenticates
 * and reads it like any other and answers what it would do, but records and scans nothing.
 */
import { loadConfig } from '../config/load.js';
import type { Config, TargetConfig } from '../config/schema.js';
import { formatListen, parseListen } from '../api/listen.js';
import { PUSH_EVENT_TEST_HEADER } from '../api/routes/events.js';
import { sampleDelivery } from '../events/samples.js';
import { ExitCode, UsageError } from './exit.js';

export interface EventsTestOptions {
  config?: string;
  target: string;
  url?: string;
  /** Tests: the HTTP client (default fetch). */
  fetch?: typeof fetch;
}

/** serve's address from api.listen: a wildcard address is reached on loopback. */
export function defaultServeUrl(config: Config): string {
  const a = parseListen(config.api.listen);
  if (!a) return 'http://127.0.0.1:8080';
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return `http://${formatListen({ host, port: a.port })}`;
}

export async function eventsTest(opts: EventsTestOptions): Promise<{ code: number; text: string }> {
  const { config } = loadConfig(opts.config);
  const target = config.targets.find((t) => t.id === opts.target);
  if (!target) throw new UsageError(`target "${opts.target}" is not in the config (${config.targets.map((t) => t.id).join(', ') || 'no targets'})`);
  const secret = eventsSecret(target);
  let base: URL;
  try {
    base = new URL(opts.url ?? defaultServeUrl(config));
  } catch {
    throw new UsageError(`--url "${opts.url}" must be serve's base URL, e.g. http://127.0.0.1:8080`);
  }
  const sample = sampleDelivery(target, secret);
  const url = new URL(sample.path, base);
  const shown = `${url.origin}${url.pathname}`;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', [PUSH_EVENT_TEST_HEADER]: 'true', ...sample.headers },
      body: JSON.stringify(sample.body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    return { code: ExitCode.scanFailed, text: `tagledger events test: cannot reach serve at ${shown}: ${transportError(err)}` };
  }
  const text = await res.text();
  let answer: { result?: string; reason?: string | null; message?: string; events?: Array<{ repository: string; tag: string | null; action: string; status: string; note: string | null }> } = {};
  try {
    answer = JSON.parse(text) as typeof answer;
  } catch {
    /* reported below with the status */
  }
  if (res.status !== 202 || answer.result !== 'test') {
    const why = answer.message ?? answer.reason ?? (text.slice(0, 200) || '(no body)');
    return { code: ExitCode.scanFailed, text: `tagledger events test: POST ${shown} → ${res.status} ${answer.result ?? ''}\n  ${why}`.replace(/ +\n/, '\n') };
  }
  const lines = [`tagledger events test: POST ${shown} → 202: the secret matched and the ${sample.source} event was read (a test: nothing recorded, nothing scanned)`];
  for (const e of answer.events ?? []) {
    const what = `${e.repository}${e.tag ? `:${e.tag}` : ''} ${e.action}`;
    lines.push(e.status === 'ignored' ? `  a real event like it (${what}) would be acknowledged and ignored: ${e.note}` : `  a real event like it (${what}) would be recorded and its repository scanned`);
  }
  return { code: ExitCode.ok, text: lines.join('\n') };
}

function eventsSecret(target: TargetConfig): string {
  if (target.kind === 'oci') throw new UsageError(`target "${target.id}" is a plain OCI registry: those send no push events tagledger takes`);
  if (!target.events) throw new UsageError(`target "${target.id}" has no events block: set targets[].events.secret (see the README, "Push events")`);
  return target.events.secret;
}

/** fetch says "fetch failed"; the reason is in its cause (an AggregateError when several addresses were tried). */
function transportError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
  return cause?.code ?? cause?.errors?.find((e) => e.code)?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
