/**
 * Logging for the CLI: pino, either as JSON lines (`--log-format json`, the service default) or as
 * plain readable lines on stderr. `LOG_LEVEL` or `--log-level` set the level.
 */
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';

export type LogFormat = 'plain' | 'json';

export function createLogger(opts: { level?: string; format?: LogFormat; stream?: NodeJS.WritableStream } = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const out = opts.stream ?? process.stderr;
  if (opts.format === 'json') return pino({ level, base: { pid: process.pid } }, out as pino.DestinationStream);
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, plainStream(out));
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function plainStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        try {
          const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${String(time)} ${LEVELS[level as number] ?? level} ${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
