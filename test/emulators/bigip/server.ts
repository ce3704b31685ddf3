/**
 * The HTTPS side of the emulated device: the listener on loopback with the fixture certificate,
 * request counters by route, injected faults and latency before a request is handled, the body
 * limit, authentication (login is the one path without it), and routing to the concerns.
 */
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { packageRoot } from '../../../lib/util';
import { As3Service } from './as3';
import { TokenAuth } from './auth';
import { ServiceDiscovery } from './discovery';
import { FaultInjector } from './faults';
import { ErrorAnswers, HttpError, send } from './http';
import { Timers } from './timers';
import { Tmsh } from './tmsh';
import { ClusterEndpoints, STANDALONE } from './cluster-status';

/** Route templates; request counters are keyed `<METHOD> <template>`. */
const ROUTES: ReadonlyArray<{ readonly template: string; readonly pattern: RegExp }> = [
  { template: '/mgmt/shared/authn/login', pattern: /^\/mgmt\/shared\/authn\/login\/?$/ },
  { template: '/mgmt/shared/authz/tokens/{token}', pattern: /^\/mgmt\/shared\/authz\/tokens\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/declare', pattern: /^\/mgmt\/shared\/appsvcs\/declare\/?$/ },
  { template: '/mgmt/shared/appsvcs/declare/{tenants}', pattern: /^\/mgmt\/shared\/appsvcs\/declare\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/task', pattern: /^\/mgmt\/shared\/appsvcs\/task\/?$/ },
  { template: '/mgmt/shared/appsvcs/task/{id}', pattern: /^\/mgmt\/shared\/appsvcs\/task\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/info', pattern: /^\/mgmt\/shared\/appsvcs\/info\/?$/ },
  {
    template: '/mgmt/shared/service-discovery/task/{taskId}/nodes',
    pattern: /^\/mgmt\/shared\/service-discovery\/task\/([^/]+)\/nodes\/?$/,
  },
  { template: '/mgmt/tm/util/bash', pattern: /^\/mgmt\/tm\/util\/bash\/?$/ },
  { template: '/mgmt/tm/security/firewall/global-rules', pattern: /^\/mgmt\/tm\/security\/firewall\/global-rules\/?$/ },
  { template: '/mgmt/tm/security/firewall/global-fqdn-policy', pattern: /^\/mgmt\/tm\/security\/firewall\/global-fqdn-policy\/?$/ },
  // Device service clustering (ha.ts): a unit of a pair, or a standalone device.
  { template: '/mgmt/tm/cm/failover-status', pattern: /^\/mgmt\/tm\/cm\/failover-status\/?$/ },
  { template: '/mgmt/tm/cm/sync-status', pattern: /^\/mgmt\/tm\/cm\/sync-status\/?$/ },
  { template: '/mgmt/tm/cm/device-group', pattern: /^\/mgmt\/tm\/cm\/device-group\/?$/ },
];

export function fixturePath(file: string): string {
  return path.join(packageRoot(), 'test', 'emulators', 'fixtures', file);
}

/** What the server routes requests to. */
export interface DeviceServices {
  readonly auth: TokenAuth;
  readonly as3: As3Service;
  readonly discovery: ServiceDiscovery;
  readonly tmsh: Tmsh;
  readonly faults: FaultInjector;
}

export class BigipServer {
  private readonly server: https.Server;
  private readonly counters = new Map<string, number>();
  private stopped = false;
  /** What the cm endpoints answer: a unit of a `BigipPair`, else a standalone device. */
  public cluster: ClusterEndpoints = STANDALONE;

  constructor(
    private readonly host: string,
    private readonly maxBodyBytes: number,
    private readonly services: DeviceServices,
    private readonly timers: Timers,
    private readonly errors: ErrorAnswers,
  ) {
    this.server = https.createServer(
      { key: fs.readFileSync(fixturePath('server.key')), cert: fs.readFileSync(fixturePath('server.crt')) },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          if (!res.headersSent && !res.destroyed) send(res, 500, { code: 500, message: `emulator error: ${(err as Error).message}` });
        });
      },
    );
  }

  /** Base URL, e.g. `https://127.0.0.1:43121`. */
  public get url(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('BigipEmulator: not listening');
    return this.host.includes(':') ? `https://[${this.host}]:${address.port}` : `https://${this.host}:${address.port}`;
  }

  /** The listening port. */
  public get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('BigipEmulator: not listening');
    return address.port;
  }

  public async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops listening, drops open connections and pending timers. */
  public async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /**
   * Requests received for a route, keyed `<METHOD> <template>`, e.g.
   * `POST /mgmt/shared/service-discovery/task/{taskId}/nodes` or `POST /mgmt/shared/authn/login`;
   * without a key, the total. Faulted requests count too.
   */
  public requestCount(key?: string): number {
    if (key !== undefined) return this.counters.get(key) ?? 0;
    let n = 0;
    for (const v of this.counters.values()) n += v;
    return n;
  }

  /** All request counters. */
  public requestCounts(): Record<string, number> {
    return Object.fromEntries([...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Zeroes the request counters. */
  public resetCounters(): void {
    this.counters.clear();
  }

  private count(key: string): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) throw this.errors.rest(413, `request body exceeds ${this.maxBodyBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private parseJson(text: string): unknown {
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw this.errors.rest(400, `Found invalid JSON body in the request: ${(e as Error).message}`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://localhost');
    const pathname = url.pathname;
    let template: string | undefined;
    let param: string | undefined;
    for (const r of ROUTES) {
      const m = r.pattern.exec(pathname);
      if (m) {
        template = r.template;
        param = m[1] !== undefined ? decodeURIComponent(m[1]) : undefined;
        break;
      }
    }
    this.count(`${method} ${template ?? '(unregistered)'}`);

    const { latencyMs, fault } = this.services.faults.draw(method, pathname);
    if (latencyMs > 0) await this.timers.delay(latencyMs);
    if (this.stopped) return;
    try {
      if (fault) {
        this.services.faults.apply(fault, req, res, pathname);
        return;
      }
      const body = method === 'GET' || method === 'DELETE' ? undefined : this.parseJson(await this.readBody(req));
      if (template === undefined) {
        throw this.errors.rest(
          404,
          `URI path ${pathname} not registered.  Please verify URI is supported and wait for /available suffix to be responsive.`,
        );
      }
      if (template === '/mgmt/shared/authn/login') {
        if (method !== 'POST') throw this.errors.methodNotAllowed(method, pathname);
        send(res, 200, this.services.auth.login(body));
        return;
      }
      const user = this.services.auth.authenticate(req, pathname);
      const [status, out] = await this.route(template, method, param, body, url, user);
      send(res, status, out);
    } catch (e) {
      if (e instanceof HttpError) send(res, e.status, e.body);
      else throw e;
    }
  }

  private async route(
    template: string,
    method: string,
    param: string | undefined,
    body: unknown,
    url: URL,
    user: string,
  ): Promise<[number, unknown]> {
    const { auth, as3, discovery, tmsh } = this.services;
    switch (template) {
      case '/mgmt/shared/authz/tokens/{token}':
        return auth.tokenResource(method, param as string, body, user);
      case '/mgmt/shared/appsvcs/declare':
      case '/mgmt/shared/appsvcs/declare/{tenants}':
        return as3.declareResource(method, param, body, url);
      case '/mgmt/shared/appsvcs/task':
        if (method !== 'GET') throw this.errors.methodNotAllowed(method, url.pathname);
        return as3.taskList();
      case '/mgmt/shared/appsvcs/task/{id}':
        if (method !== 'GET') throw this.errors.methodNotAllowed(method, url.pathname);
        return as3.task(param as string);
      case '/mgmt/shared/appsvcs/info':
        if (method !== 'GET') throw this.errors.methodNotAllowed(method, url.pathname);
        return as3.info();
      case '/mgmt/shared/service-discovery/task/{taskId}/nodes':
        return discovery.nodesResource(method, param as string, body, url.pathname);
      case '/mgmt/tm/util/bash':
        if (method !== 'POST') throw this.errors.methodNotAllowed(method, url.pathname);
        return [200, tmsh.bash(body)];
      case '/mgmt/tm/security/firewall/global-rules':
        return tmsh.globalRulesResource(method, body, url.pathname);
      case '/mgmt/tm/security/firewall/global-fqdn-policy':
        return tmsh.globalFqdnPolicyResource(method, url.pathname);
      case '/mgmt/tm/cm/failover-status':
      case '/mgmt/tm/cm/sync-status':
      case '/mgmt/tm/cm/device-group':
        if (method !== 'GET') throw this.errors.methodNotAllowed(method, url.pathname);
        return [200, this.cluster.answer(template)];
      default:
        throw this.errors.rest(404, `URI path ${url.pathname} not registered.`);
    }
  }
}
