/**
 * The controller's HTTP endpoints: Prometheus `/metrics`, liveness `/healthz`, readiness
 * `/readyz` (caches listed; the body says whether this replica leads and what is pending).
 */
import * as http from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Whether the process works at all (false once shutdown starts). */
  live(): boolean;
  /** Readiness and a short JSON-able description. */
  ready(): { ready: boolean; detail: Record<string, unknown> };
}

/**
 * Listens on every address of the pod. Without a host Node.js binds the unspecified IPv6
 * address `::` in dual-stack mode when IPv6 is available (and `0.0.0.0` otherwise), so the
 * kubelet's probes reach it on IPv4-only, IPv6-only and dual-stack clusters alike; `0.0.0.0`
 * would refuse the IPv6 probes of IPv6-first clusters. `host` narrows it (tests).
 */
export function startHttpServer(port: number, registry: Registry, health: HealthSource, host?: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET') return send(405, '{"error":"method not allowed"}');
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        (e: Error) => send(500, JSON.stringify({ error: e.message })),
      );
      return;
    }
    if (url === '/healthz') return health.live() ? send(200, '{"status":"ok"}') : send(503, '{"status":"shutting down"}');
    if (url === '/readyz') {
      const r = health.ready();
      return send(r.ready ? 200 : 503, JSON.stringify({ status: r.ready ? 'ready' : 'not ready', ...r.detail }));
    }
    send(404, '{"error":"not found"}');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (host === undefined) server.listen(port, () => resolve(server));
    else server.listen(port, host, () => resolve(server));
  });
}
