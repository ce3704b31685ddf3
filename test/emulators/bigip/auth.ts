/**
 * Authentication of the emulated device: `POST /mgmt/shared/authn/login` issues tokens (a
 * lifetime, a cap per user), `X-F5-Auth-Token` or (when allowed) Basic credentials authenticate
 * a request, 401 otherwise, and `/mgmt/shared/authz/tokens/<token>` reads, extends or deletes
 * one's own token.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ErrorAnswers } from './http';
import { Json, isObject } from './json';

export const TOKEN_ABSOLUTE_MAX_S = 36000;

interface Token {
  readonly token: string;
  readonly user: string;
  readonly startMs: number;
  timeoutS: number;
}

export interface TokenAuthSettings {
  readonly users: Readonly<Record<string, string>>;
  readonly tokenLifetimeS: number;
  readonly maxTokensPerUser: number;
  readonly allowBasicAuth: boolean;
}

export class TokenAuth {
  private readonly tokens = new Map<string, Token>();
  private readonly users: Readonly<Record<string, string>>;
  private readonly tokenLifetimeS: number;
  private readonly maxTokensPerUser: number;
  private readonly allowBasicAuth: boolean;

  constructor(
    settings: TokenAuthSettings,
    private readonly clock: () => number,
    private readonly errors: ErrorAnswers,
  ) {
    this.users = settings.users;
    this.tokenLifetimeS = settings.tokenLifetimeS;
    this.maxTokensPerUser = settings.maxTokensPerUser;
    this.allowBasicAuth = settings.allowBasicAuth;
  }

  /** Tokens that have not expired, of one user or of all. */
  public activeTokenCount(user?: string): number {
    const now = this.clock();
    let n = 0;
    for (const t of this.tokens.values()) if ((user === undefined || t.user === user) && this.tokenExpiry(t) > now) n++;
    return n;
  }

  /** Drops every token, as a device restart does. */
  public revokeAllTokens(): void {
    this.tokens.clear();
  }

  /** Revokes one token, as when the device dropped it. */
  public revoke(token: string): void {
    this.tokens.delete(token);
  }

  private tokenExpiry(t: Token): number {
    return t.startMs + t.timeoutS * 1000;
  }

  private tokenJson(t: Token): Json {
    const now = this.clock();
    return {
      token: t.token,
      name: t.token,
      userName: t.user,
      authProviderName: 'tmos',
      user: { link: `https://localhost/mgmt/shared/authz/users/${t.user}` },
      groupReferences: [],
      timeout: t.timeoutS,
      startTime: new Date(t.startMs).toISOString(),
      address: '127.0.0.1',
      partition: '[All]',
      generation: 1,
      lastUpdateMicros: now * 1000,
      expirationMicros: this.tokenExpiry(t) * 1000,
      kind: 'shared:authz:tokens:authtokenitemstate',
      selfLink: `https://localhost/mgmt/shared/authz/tokens/${t.token}`,
    };
  }

  private purgeExpiredTokens(): void {
    // Expired tokens are kept for a while so that their 401 says "expired" rather than
    // "does not exist", then dropped to keep memory bounded.
    const cutoff = this.clock() - 600_000;
    for (const [k, t] of this.tokens) if (this.tokenExpiry(t) < cutoff) this.tokens.delete(k);
    if (this.tokens.size > 10_000) {
      const now = this.clock();
      for (const [k, t] of this.tokens) if (this.tokenExpiry(t) <= now) this.tokens.delete(k);
    }
  }

  public login(body: unknown): Json {
    if (!isObject(body) || typeof body.username !== 'string' || typeof body.password !== 'string') {
      throw this.errors.rest(400, 'Login requires a JSON body {"username": "...", "password": "...", "loginProviderName": "tmos"}');
    }
    const provider = body.loginProviderName ?? 'tmos';
    if (provider !== 'tmos' && provider !== 'local') throw this.errors.rest(400, `loginProviderName ${JSON.stringify(provider)} not found`);
    const expected = Object.prototype.hasOwnProperty.call(this.users, body.username) ? this.users[body.username] : undefined;
    if (expected === undefined || expected !== body.password) throw this.errors.rest(401, 'Authentication failed.');
    this.purgeExpiredTokens();
    if (this.activeTokenCount(body.username) >= this.maxTokensPerUser) {
      throw this.errors.rest(400, `user ${body.username} has reached maximum active login tokens`);
    }
    const token: Token = {
      token: randomBytes(20)
        .toString('base64url')
        .replace(/[^A-Za-z0-9]/g, 'X')
        .slice(0, 26)
        .toUpperCase(),
      user: body.username,
      startMs: this.clock(),
      timeoutS: this.tokenLifetimeS,
    };
    this.tokens.set(token.token, token);
    return {
      username: body.username,
      loginReference: { link: `https://localhost/mgmt/cm/system/authn/providers/${provider}/login` },
      loginProviderName: provider,
      token: this.tokenJson(token),
      generation: 0,
      lastUpdateMicros: 0,
    };
  }

  /** The user behind the request's token (or Basic credentials when allowed). */
  public authenticate(req: IncomingMessage, pathname: string): string {
    const presented = req.headers['x-f5-auth-token'];
    if (typeof presented === 'string' && presented !== '') {
      const t = this.tokens.get(presented);
      if (!t) throw this.errors.rest(401, 'X-F5-Auth-Token does not exist.');
      if (this.tokenExpiry(t) <= this.clock()) throw this.errors.rest(401, 'X-F5-Auth-Token has expired.');
      return t.user;
    }
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      if (!this.allowBasicAuth)
        throw this.errors.rest(401, 'Basic authentication is disabled on this device; use token authentication (X-F5-Auth-Token).');
      const text = Buffer.from(authz.slice(6), 'base64').toString('utf8');
      const colon = text.indexOf(':');
      const user = text.slice(0, colon);
      if (colon > 0 && Object.prototype.hasOwnProperty.call(this.users, user) && this.users[user] === text.slice(colon + 1)) return user;
      throw this.errors.rest(401, 'Authentication failed.');
    }
    throw this.errors.rest(
      401,
      `Authorization failed: no user authentication header or token detected. Uri:http://localhost:8100${pathname} Referrer:127.0.0.1 Sender:127.0.0.1`,
    );
  }

  public tokenResource(method: string, name: string, body: unknown, user: string): [number, unknown] {
    const t = this.tokens.get(name);
    // Another user's token is reported as missing, like a token that never existed.
    if (!t || t.user !== user || this.tokenExpiry(t) <= this.clock()) throw this.errors.rest(404, 'Token not found');
    switch (method) {
      case 'GET':
        return [200, this.tokenJson(t)];
      case 'PATCH': {
        if (!isObject(body) || typeof body.timeout !== 'number' || !Number.isInteger(body.timeout) || body.timeout < 1) {
          throw this.errors.rest(400, 'PATCH of a token takes {"timeout": <whole seconds from the token\'s startTime>}');
        }
        if (body.timeout > TOKEN_ABSOLUTE_MAX_S)
          throw this.errors.rest(406, `Auth-token absolute timeout (${TOKEN_ABSOLUTE_MAX_S} seconds) exceeded`);
        t.timeoutS = body.timeout;
        return [200, this.tokenJson(t)];
      }
      case 'DELETE':
        this.tokens.delete(name);
        return [200, this.tokenJson(t)];
      default:
        throw this.errors.methodNotAllowed(method, `/mgmt/shared/authz/tokens/${name}`);
    }
  }
}
