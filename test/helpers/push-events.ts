/**
 * A `serve` for push-event tests: its config (database on PGlite in `dir`, or a fresh PostgreSQL
 * database when DATABASE_URL is set; a far-away schedule, so every scan after a baseline is one an
 * event triggered), and the reads the tests make through its API.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { freshPostgres, startedServe, type ServeProcess } from './serve.js';

export const API_TOKEN = 'api-token-for-people';
export const bearer = { authorization: `Bearer ${API_TOKEN}` };
/** Valid node-cron, fires once a year: no scheduled scan during a test. */
export const NEVER = `    schedule: "0 0 1 1 *"\n    jitter: 0s\n`;

export interface PushEventJson {
  id: number;
  repository: string;
  tag: string | null;
  action: string;
  status: string;
  scanId: number | null;
  note: string | null;
  eventType: string;
}

export interface ScanJson {
  id: number;
  status: string;
  scope: string[] | null;
}

export interface PushEventServe {
  serve: ServeProcess;
  configFile: string;
  api<T>(path: string): Promise<T>;
  scansOf(target: string): Promise<ScanJson[]>;
  pushEvents(target: string): Promise<PushEventJson[]>;
  /** Every push event of the target (at least `count`) has had its scan: newest first. */
  settled(target: string, count: number): Promise<PushEventJson[]>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  history(target: string, repository: string, tag: string): Promise<Array<{ kind: string; digest: string | null; scanId: number }>>;
  /** A scan of the whole target through the API, waited for. */
  baseline(target: string): Promise<void>;
  close(): Promise<void>;
}

export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** `targets` and the rest: YAML after the database and api blocks. */
export async function startPushEventServe(dir: string, yaml: string, env: NodeJS.ProcessEnv = {}): Promise<PushEventServe> {
  const pgdb = process.env.DATABASE_URL ? await freshPostgres('tagledger_push_events') : null;
  const configFile = join(dir, 'tagledger.yaml');
  writeFileSync(configFile, `${pgdb ? '' : `database:\n  path: ${JSON.stringify(join(dir, 'pglite'))}\n`}api:\n  listen: 127.0.0.1:0\n  token: ${API_TOKEN}\n${yaml}`);
  let serve: ServeProcess;
  try {
    serve = await startedServe(configFile, { DATABASE_URL: pgdb?.url ?? '', ...env }, ['--alert-poll', '500ms']);
  } catch (err) {
    await pgdb?.drop();
    throw err;
  }
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${serve.url()}${path}`, { headers: bearer });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const scansOf = async (target: string) => (await api<{ items: ScanJson[] }>(`/api/v1/scans?target=${target}&limit=500`)).items;
  const pushEvents = async (target: string) => (await api<{ items: PushEventJson[] }>(`/api/v1/push-events?target=${target}&limit=500`)).items;
  return {
    serve,
    configFile,
    api,
    scansOf,
    pushEvents,
    settled: (target, count) =>
      until(`${count} settled push events of ${target}`, async () => {
        const events = await pushEvents(target);
        return events.length >= count && events.every((e) => e.status !== 'received') ? events : null;
      }),
    post: (path, body, headers = {}) =>
      fetch(`${serve.url()}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) }),
    history: async (target, repository, tag) =>
      (await api<{ items: Array<{ kind: string; digest: string | null; scanId: number }> }>(`/api/v1/tags/${target}/${repository}:${tag}/history?limit=500`)).items,
    baseline: async (target) => {
      const res = await fetch(`${serve.url()}/api/v1/scans`, { method: 'POST', headers: { ...bearer, 'Content-Type': 'application/json' }, body: JSON.stringify({ target }) });
      expect(res.status).toBe(202);
      await until(`the baseline of ${target}`, async () => (await scansOf(target)).some((s) => s.status === 'succeeded'));
    },
    close: async () => {
      await serve.stop('SIGTERM');
      await pgdb?.drop();
    },
  };
}
