/**
 * Registry authentication: anonymous, HTTP Basic, or the token flow
 * (https://distribution.github.io/distribution/spec/auth/token/).
 *
 * Nothing is sent until the registry asks: a 401 carries `WWW-Authenticate`, either
 * `Basic realm=...` (the client then sends its credentials on every request) or
 * `Bearer realm=...,service=...,scope=...` (the client gets a token from the realm for that service
 * and scope, with its Basic credentials if it has any, and retries). Tokens are cached per scope until
 * their `expires_in` (60 s when absent) runs out; once the realm is known, a token for a new scope is
 * fetched before the request instead of after a 401.
 */
import { MalformedResponseError, TokenError } from './errors.js';
import { parseJson, registryErrorSummary, TokenResponse } from './schema.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface Challenge {
  /** Lower-cased auth scheme, e.g. `bearer`, `basic`. */
  scheme: string;
  /** Parameters with lower-cased names. */
  params: Record<string, string>;
}

/** The token spec's default when a token response has no `expires_in`. */
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** Parses `WWW-Authenticate` (RFC 7235), which may hold several challenges and quoted commas. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges: Challenge[] = [];
  for (const value of values) {
    let current: Challenge | null = null;
    let i = 0;
    const skip = (chars: RegExp) => {
      while (i < value.length && chars.test(value[i])) i++;
    };
    while (i < value.length) {
      skip(/[\s,]/);
      const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(value.slice(i))?.[0];
      if (!token) {
        i++;
        continue;
      }
      i += token.length;
      skip(/\s/);
      if (value[i] === '=' && current) {
        i++;
        skip(/\s/);
        let param = '';
        if (value[i] === '"') {
          i++;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\') i++;
            param += value[i] ?? '';
            i++;
          }
          i++;
        } else {
          const bare = /^[^\s,]*/.exec(value.slice(i))![0];
          param = bare;
          i += bare.length;
        }
        current.params[token.toLowerCase()] = param;
      } else {
        current = { scheme: token.toLowerCase(), params: {} };
        challenges.push(current);
      }
    }
  }
  return challenges;
}

export interface PlainResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

export interface AuthenticatorOptions {
  credentials?: RegistryCredentials;
  /** The registry's own URL: Basic credentials go to a token realm only over https, or when the registry itself is plain http. */
  registryUrl: URL;
  /** GET without registry auth, with retries (for the token realm). */
  fetch: (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<PlainResponse>;
  now: () => number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export class RegistryAuthenticator {
  private scheme: 'none' | 'basic' | 'bearer' = 'none';
  private realm: { url: URL; service: string | undefined } | null = null;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly opts: AuthenticatorOptions) {}

  /** The Authorization header for a request needing `scope` (null: none, e.g. the version check), or undefined to go anonymous. */
  async authorization(scope: string | null, signal: AbortSignal): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme === 'bearer') return `Bearer ${await this.token(scope, scope === null ? [] : [scope], signal)}`;
    return undefined;
  }

  /**
   * A request sent with `sent` (undefined: anonymous) was answered 401 with `header`. Learns the
   * scheme and, for Bearer, obtains a fresh token. True when retrying the request once can succeed.
   */
  async challenged(header: string | string[] | undefined, scope: string | null, sent: string | undefined, signal: AbortSignal): Promise<boolean> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      let realmUrl: URL;
      try {
        realmUrl = new URL(bearer.params.realm);
      } catch {
        throw new MalformedResponseError(`the registry's Bearer challenge names an invalid realm "${bearer.params.realm}"`);
      }
      if (realmUrl.protocol !== 'https:' && realmUrl.protocol !== 'http:') {
        throw new MalformedResponseError(`the registry's Bearer challenge names a realm that is not http(s): ${realmUrl.protocol}`);
      }
      this.scheme = 'bearer';
      this.realm = { url: realmUrl, service: bearer.params.service };
      const key = scope ?? '';
      const cached = this.tokens.get(key);
      if (sent?.startsWith('Bearer ')) {
        // Another request may already have replaced the refused token.
        if (cached && sent !== `Bearer ${cached.token}`) return true;
        this.tokens.delete(key);
        // A token issued for exactly the scope asked for, still refused: more tokens will not help
        // (Docker Hub's catalog, or a repository these credentials may not pull).
        if (bearer.params.error === 'insufficient_scope' && sentForChallengeScope(bearer, scope)) return false;
      }
      const scopes = bearer.params.scope ? bearer.params.scope.split(/\s+/).filter(Boolean) : scope === null ? [] : [scope];
      await this.token(scope, scopes, signal, true);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.opts.credentials && !sent?.startsWith('Basic ')) {
      this.scheme = 'basic';
      return true;
    }
    return false;
  }

  private basicHeader(): string | undefined {
    const c = this.opts.credentials;
    return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
  }

  /** A cached, unexpired token for `scope`, or a new one (one request per scope at a time). */
  private async token(scope: string | null, scopes: string[], signal: AbortSignal, refresh = false): Promise<string> {
    const key = scope ?? '';
    const cached = this.tokens.get(key);
    if (!refresh && cached && cached.expiresAt > this.opts.now()) return cached.token;
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const p = this.requestToken(scopes, signal)
      .then((t) => {
        this.tokens.set(key, t);
        return t.token;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private async requestToken(scopes: string[], signal: AbortSignal): Promise<CachedToken> {
    const realm = this.realm!;
    const url = new URL(realm.url);
    if (realm.service) url.searchParams.set('service', realm.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const where = `${realm.url.origin}${realm.url.pathname}`;
    const what = `token request to ${where}${scopes.length ? ` for scope "${scopes.join(' ')}"` : ''}`;
    const headers: Record<string, string> = {};
    const basic = this.basicHeader();
    if (basic && (url.protocol === 'https:' || this.opts.registryUrl.protocol === 'http:')) headers.Authorization = basic;
    const res = await this.opts.fetch(url.toString(), headers, signal);
    if (res.status !== 200) {
      const code = registryErrorSummary(res.body);
      const hint = res.status === 401 || res.status === 403 ? (this.opts.credentials ? ' (check username and password)' : ' (no username/password configured)') : '';
      throw new TokenError(`${what} failed: HTTP ${res.status}${code ? ` (${code})` : ''}${hint}`, res.status);
    }
    const body = parseJson(TokenResponse, res.body, what);
    const lifetimeMs = (body.expires_in ?? DEFAULT_TOKEN_LIFETIME_S) * 1000;
    // Renew a little early so a token does not expire between check and use.
    const margin = Math.min(10_000, lifetimeMs / 10);
    return { token: (body.token ?? body.access_token)!, expiresAt: this.opts.now() + lifetimeMs - margin };
  }
}

function sentForChallengeScope(challenge: Challenge, scope: string | null): boolean {
  return !challenge.params.scope || challenge.params.scope === scope;
}
