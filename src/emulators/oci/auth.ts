/**
 * Authentication of the OCI emulator: none, HTTP Basic, or the registry token flow
 * (https://distribution.github.io/distribution/spec/auth/token/): a request without a valid token
 * is answered 401 with `WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client gets a
 * token from the realm (this emulator's own `/token`) and retries.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type OciEmulatorAuth =
  | { kind: 'basic'; username: string; password: string; realm?: string }
  | {
      kind: 'bearer';
      /** When set, the token endpoint requires these Basic credentials; otherwise it grants anonymous pull tokens. */
      username?: string;
      password?: string;
      service?: string;
      /** How long issued tokens are valid (default 300 s, as Docker Hub issues them). */
      tokenTtlSeconds?: number;
      /** Leave `expires_in` out of token responses (clients must then assume 60 s). */
      omitExpiresIn?: boolean;
      /** Which field carries the token: the spec's `token`, OAuth's `access_token`, or both (default). */
      tokenField?: 'token' | 'access_token' | 'both';
    };

export type AuthDecision = { ok: true } | { ok: false; challenge: string; message: string };

interface IssuedToken {
  scopes: string[];
  expiresAt: number;
}

export class EmulatorAuth {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly config: OciEmulatorAuth | undefined,
    private readonly baseUrl: () => string,
  ) {}

  /** Invalidates every issued token (as a token service's key rotation does): clients must get new ones. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  get kind(): 'none' | 'basic' | 'bearer' {
    return this.config?.kind ?? 'none';
  }

  /** May this request access `scope` (null: the `/v2/` version check, which needs only authentication)? */
  check(req: IncomingMessage, scope: string | null): AuthDecision {
    const config = this.config;
    if (!config) return { ok: true };
    const header = req.headers.authorization ?? '';
    if (config.kind === 'basic') {
      const creds = parseBasic(header);
      if (creds && creds.username === config.username && creds.password === config.password) return { ok: true };
      return { ok: false, challenge: `Basic realm="${config.realm ?? 'tagledger-emulator'}"`, message: 'authentication required' };
    }
    const challenge = (error?: string) =>
      [`Bearer realm="${this.baseUrl()}/token"`, `service="${this.service}"`, scope ? `scope="${scope}"` : null, error ? `error="${error}"` : null]
        .filter(Boolean)
        .join(',');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return { ok: false, challenge: challenge(), message: 'authentication required' };
    const token = this.tokens.get(m[1]);
    if (!token || token.expiresAt <= Date.now()) return { ok: false, challenge: challenge('invalid_token'), message: 'authentication required' };
    if (scope && !token.scopes.some((granted) => covers(granted, scope))) {
      return { ok: false, challenge: challenge('insufficient_scope'), message: 'authentication required' };
    }
    return { ok: true };
  }

  /** Answers `GET /token?service=...&scope=...`; returns [status, JSON body]. */
  issueToken(req: IncomingMessage, query: URLSearchParams): [number, unknown] {
    const config = this.config;
    if (config?.kind !== 'bearer') return [404, { errors: [{ code: 'UNSUPPORTED', message: 'no token service' }] }];
    if (config.username !== undefined) {
      const creds = parseBasic(req.headers.authorization ?? '');
      if (!creds || creds.username !== config.username || creds.password !== config.password) {
        return [401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }];
      }
    }
    const ttl = config.tokenTtlSeconds ?? 300;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { scopes: query.getAll('scope'), expiresAt: Date.now() + ttl * 1000 });
    const field = config.tokenField ?? 'both';
    return [
      200,
      {
        ...(field !== 'access_token' ? { token } : {}),
        ...(field !== 'token' ? { access_token: token } : {}),
        ...(config.omitExpiresIn ? {} : { expires_in: ttl }),
        issued_at: new Date().toISOString(),
      },
    ];
  }

  private get service(): string {
    return (this.config?.kind === 'bearer' && this.config.service) || 'tagledger-emulator';
  }
}

function parseBasic(header: string): { username: string; password: string } | null {
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? null : { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/** Does a granted scope (`type:name:action[,action]`) cover the required one? */
function covers(granted: string, required: string): boolean {
  const g = splitScope(granted);
  const r = splitScope(required);
  if (!g || !r || g.type !== r.type || g.name !== r.name) return false;
  return r.actions.every((a) => g.actions.includes(a) || g.actions.includes('*'));
}

function splitScope(scope: string): { type: string; name: string; actions: string[] } | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return null;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}
