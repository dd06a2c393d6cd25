/**
 * The API's `listen` address: `host:port`, `[v6]:port`. Pure, so the config schema can use it.
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

export function parseListen(value: string): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!m) return null;
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port > 65_535) return null;
  if (m[1] && isIP(m[1]) !== 6) return null;
  return { host, port };
}

/** Only loopback addresses: anything else is reachable from other machines. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

export function formatListen(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
