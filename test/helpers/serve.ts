/**
 * `tagledger serve` as a real child process (from source, through tsx), with its JSON log lines
 * parsed as they arrive. Give it `api.listen: 127.0.0.1:0`: the port it bound is read from its
 * "listening" log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { repoRoot } from './cli.js';

export type LogLine = Record<string, unknown> & { msg?: string };

export interface ServeProcess {
  child: ChildProcess;
  logs: LogLine[];
  /** stderr lines that are not JSON (warnings from Node itself). */
  other: string[];
  url(): string;
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export function startServe(configFile: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): ServeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'main.ts'), '--config', configFile, 'serve', ...extraArgs], {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: 'info', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const other: string[] = [];
  const waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        other.push(line);
        continue;
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.match(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let port: number | null = null;

  const waitForLog = (match: (l: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = logs.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}\n${other.slice(-5).join('\n')}`)), timeoutMs);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`serve exited before the log line; stderr:\n${other.join('\n')}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
      });
    });

  void waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'), 60_000)
    .then((l) => (port = Number(String(l.listen).split(':').pop())))
    .catch(() => undefined);

  return {
    child,
    logs,
    other,
    exited,
    waitForLog,
    url: () => {
      if (port === null) throw new Error('serve is not listening yet');
      return `http://127.0.0.1:${port}`;
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 30_000) => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A listening serve: waits for its "listening" line. */
export async function startedServe(configFile: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): Promise<ServeProcess> {
  const s = startServe(configFile, env, extraArgs);
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'), 60_000);
  return s;
}

/** A fresh PostgreSQL database on DATABASE_URL's server, dropped by `drop()`. */
export async function freshPostgres(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL!;
  const name = `${prefix}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
