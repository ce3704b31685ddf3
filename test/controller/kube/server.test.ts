/**
 * The controller's HTTP endpoints answer on IPv4 and IPv6: the kubelet probes the pod IP, which
 * is an IPv6 address on IPv6-only and IPv6-first dual-stack clusters.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { startHttpServer } from '../../../lib/controller/server';

function get(host: string, port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, family: host.includes(':') ? 6 : 4, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}

describe('controller HTTP server', () => {
  let server: http.Server;
  let ready = true;
  beforeAll(async () => {
    const registry = new Registry();
    server = await startHttpServer(0, registry, { live: () => true, ready: () => ({ ready, detail: { leader: false } }) });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test.each(['127.0.0.1', '::1'])('probes and metrics answer on %s', async (host) => {
    const port = (server.address() as AddressInfo).port;
    expect(await get(host, port, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    ready = true;
    expect(await get(host, port, '/readyz')).toEqual({ status: 200, body: '{"status":"ready","leader":false}' });
    ready = false;
    expect((await get(host, port, '/readyz')).status).toBe(503);
    expect((await get(host, port, '/metrics')).status).toBe(200);
  });

  test('it listens on the unspecified address, dual-stack', () => {
    const addr = server.address() as AddressInfo;
    expect(addr.address).toBe('::');
  });
});
