/**
 * Headless Chromium for browser tests: Debian's `chromium` package (CHROMIUM_PATH overrides the
 * path), driven by playwright-core, which downloads no browser of its own. When it is missing a
 * developer's test run skips the browser tests (and says so); with CI=true it is an error.
 */
import { accessSync, constants } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * No GPU, no sandbox (containers run as root), and nothing that phones home: the page under test
 * must be the only thing the browser talks to.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** The browser binary for a test file, or null (after saying why) when its tests must be skipped. */
export function chromiumForTests(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return CHROMIUM_PATH;
  } catch {
    const why = `headless Chromium was not found at ${CHROMIUM_PATH} (install the Debian/Ubuntu package chromium, or set CHROMIUM_PATH)`;
    if (process.env.CI === 'true') throw new Error(`${why}; it is required when CI=true`);
    console.warn(`SKIPPING browser tests: ${why}`);
    return null;
  }
}
