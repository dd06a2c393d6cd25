/** Exit codes, the same for every command. When several apply: 3 > 2 > 1. */
export const ExitCode = {
  ok: 0,
  /** Findings at or above `--fail-on`. */
  findings: 1,
  /** One or more targets or repositories failed (the rest were stored). */
  scanFailed: 2,
  /** Invalid config or usage. */
  usage: 3,
  /** Unexpected internal error. */
  internal: 4,
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
