/**
 * The cost model of a BIG-IP control plane, in front of the BIG-IP emulator (which answers a
 * list push in about a millisecond): an HTTPS proxy on loopback with the emulator's test
 * certificate.
 *
 * - List pushes (`POST …/service-discovery/task/{id}/nodes`) go through one control plane that
 *   works one push at a time, as mcpd does: a push waits for the pushes before it, then takes
 *   `perPushMs + perEntryMs × entries`; only then is it forwarded to the emulator (which records
 *   it as applied) and answered.
 * - More than `queueLimit` pushes waiting: 503 at once with restjavad's busy answer, as an
 *   overloaded device gives.
 * - Everything else (login, token, reads) is forwarded at once.
 *
 * Times are kept on a virtual timeline (when each push starts and ends on the control plane), so
 * the busy share does not depend on timer precision; the answers follow it as closely as
 * Node's timers allow.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Pool } from 'undici';
import { packageRoot } from '../../lib/util';

export interface DeviceCost {
  /** Cost of one list push, in milliseconds. */
  readonly perPushMs: number;
  /** Added cost per address in the pushed list, in milliseconds. */
  readonly perEntryMs: number;
}

const NODES = /^\/mgmt\/shared\/service-discovery\/task\/([^/]+)\/nodes\/?$/;
const fixture = (file: string) => fs.readFileSync(path.join(packageRoot(), 'test', 'emulators', 'fixtures', file));

export class DeviceModel {
  static async start(upstreamUrl: string, options: { queueLimit?: number } = {}): Promise<DeviceModel> {
    const model = new DeviceModel(upstreamUrl, options.queueLimit ?? 16);
    await new Promise<void>((resolve) => model.server.listen(0, '127.0.0.1', () => resolve()));
    return model;
  }

  cost: DeviceCost = { perPushMs: 0, perEntryMs: 0 };
  /** List pushes that arrived, all requests that arrived, pushes refused with 503. */
  readonly counts = { pushes: 0, calls: 0, refused: 0 };
  /** Fewest entries seen in a push of each list (task id). */
  readonly minEntries = new Map<string, number>();

  private readonly server: https.Server;
  private readonly upstream: Pool;
  /** When the control plane is free again (virtual time, epoch ms). */
  private freeAt = 0;
  private waiting = 0;
  /** Start and end of every push on the control plane, in order. */
  private readonly work: number[] = [];

  private constructor(
    upstreamUrl: string,
    private readonly queueLimit: number,
  ) {
    this.upstream = new Pool(upstreamUrl, { connections: 8, connect: { ca: fixture('ca.crt').toString('utf8') } });
    this.server = https.createServer({ key: fixture('server.key'), cert: fixture('server.crt') }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
          ({ status, type, body }) => {
            res.writeHead(status, type ? { 'content-type': type } : {});
            res.end(body);
          },
          (e: unknown) => {
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ code: 502, message: `device model: ${(e as Error).message}` }));
          },
        );
      });
    });
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Time the control plane worked on pushes within [from, to). */
  busyMs(from: number, to: number): number {
    let ms = 0;
    for (let i = this.work.length - 2; i >= 0; i -= 2) {
      const start = this.work[i];
      const end = this.work[i + 1];
      if (end <= from) break;
      ms += Math.max(0, Math.min(to, end) - Math.max(from, start));
    }
    return ms;
  }

  resetCounts(): void {
    this.counts.pushes = 0;
    this.counts.calls = 0;
    this.counts.refused = 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.upstream.close();
  }

  private async handle(method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer) {
    this.counts.calls++;
    const list = method === 'POST' ? NODES.exec(url.split('?')[0]) : null;
    if (list) {
      this.counts.pushes++;
      let entries = 0;
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (Array.isArray(parsed)) entries = parsed.length;
      } catch {
        // the emulator answers a body that is not JSON
      }
      this.minEntries.set(list[1], Math.min(this.minEntries.get(list[1]) ?? Infinity, entries));
      const cost = this.cost.perPushMs + this.cost.perEntryMs * entries;
      if (cost > 0) {
        if (this.waiting >= this.queueLimit) {
          this.counts.refused++;
          return {
            status: 503,
            type: 'text/html',
            body: '<html><body>Configuration Utility restarting... (control plane busy)</body></html>',
          };
        }
        const now = Date.now();
        const start = Math.max(now, this.freeAt);
        this.freeAt = start + cost;
        this.work.push(start, this.freeAt);
        this.waiting++;
        try {
          await new Promise((r) => setTimeout(r, Math.max(0, start + cost - Date.now())));
        } finally {
          this.waiting--;
        }
      }
    }
    const forward: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers))
      if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) forward[k] = v;
    const answer = await this.upstream.request({
      method: method as 'GET',
      path: url,
      headers: forward,
      body: body.length ? body : undefined,
    });
    const text = Buffer.from(await answer.body.arrayBuffer());
    const type = answer.headers['content-type'];
    return { status: answer.statusCode, type: typeof type === 'string' ? type : undefined, body: text };
  }
}
