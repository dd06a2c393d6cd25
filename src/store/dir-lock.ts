/**
 * PGlite keeps its data in one directory that only one process may use at a time. A lock file
 * beside it names the holder, so a second process gets a clear error instead of a corrupt database.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

export interface DirectoryLock {
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  purpose: string;
  since: string;
}

export function acquireDirectoryLock(lockPath: string, displayPath: string, purpose: string): DirectoryLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      const me: Holder = { pid: process.pid, host: hostname(), purpose, since: new Date().toISOString() };
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(lockPath);
      if (holder && holder.host === hostname() && !isAlive(holder.pid)) {
        // Left behind by a process that died: take it over.
        try {
          unlinkSync(lockPath);
        } catch {
          /* raced with another process */
        }
        continue;
      }
      const who = holder ? `process ${holder.pid} on ${holder.host} (${holder.purpose}, since ${holder.since})` : 'another process';
      throw new DirectoryLockedError(
        `the embedded database ${displayPath} is in use by ${who}; PGlite allows one process at a time. Stop it, or set DATABASE_URL to use PostgreSQL (lock file: ${lockPath})`,
      );
    }
  }
  throw new DirectoryLockedError(`cannot lock the embedded database ${displayPath} (lock file: ${lockPath})`);
}

export class DirectoryLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryLockedError';
  }
}

function readHolder(lockPath: string): Holder | null {
  try {
    return JSON.parse(readFileSync(lockPath, 'utf8')) as Holder;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
