/**
 * The controller as the cluster runs it: the bundle and plan from the synthesized ConfigMaps,
 * started as a child process by `runControllerProcess`. It fills the lists, shuts down cleanly
 * on SIGTERM (exit 0, BIG-IP token deleted, Lease released), and a malformed configuration
 * ends it with exactly one line on stderr, which the synthesized Deployment surfaces as the
 * pod's termination message.
 */
import * as http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runControllerProcess } from '../../emulators/deploy';
import {
  World,
  clusterSnapshot,
  deviceLists,
  eventually,
  expectedLists,
  httpGet,
  listsConverged,
  pod,
  podRef,
  service,
  startWorld,
} from './support';

interface Exited {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Collects a child's output (so its pipes never fill) and resolves when it exits. */
function watchProcess(child: ChildProcess): { exited: Promise<Exited>; output: () => { stdout: string; stderr: string } } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<Exited>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { exited, output: () => ({ stdout, stderr }) };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('the bundled controller as a child process', () => {
  let world: World;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await world?.stop();
  });

  const start = (port: number, env: Record<string, string> = {}) => {
    // The synthesized ServiceAccount's identity: the controller gets only what its RBAC grants.
    // The container runs `node /app/controller.js`, the file its init container unpacks from the
    // code ConfigMap; that unpacking (byte for byte the package's built controller) is run in
    // test/constructs/egress-controller.test.ts, so here the built file stands in for it.
    const child = runControllerProcess({ ...world.deployment, command: undefined }, world.emulators, {
      username: 'egress-a',
      password: 'password-a',
      podName: 'controller-0',
      httpPort: port,
      env: { KUBECONFIG: world.kubeconfigFile, ...env },
    });
    children.push(child);
    return { child, ...watchProcess(child) };
  };

  test('fills the lists from the synthesized code ConfigMap, then SIGTERM: exit 0, token deleted, Lease released', async () => {
    const { kube, bigip } = world.emulators;
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    kube.apply(pod('payments', 'checkout-1', { labels: { app: 'checkout' }, ips: ['10.1.0.1', 'fd00::1'] }));
    kube.apply(pod('payments', 'checkout-2', { labels: { app: 'checkout' }, ips: ['10.1.0.2'] }));
    kube.apply(pod('shop', 'cart-1', { labels: { app: 'cart' }, ips: ['10.2.0.1'] }));
    // The controller runs as plain node on the file the init container unpacked.
    expect(world.deployment.command).toEqual(['node', '/app/controller.js']);
    // It reads its BIG-IP login through the API, with the synthesized RBAC, from the Secret
    // the operator created; nothing mounts it.
    expect(world.deployment.secretMount).toBeUndefined();
    expect(world.deployment.env.BIGIP_CREDENTIALS_SECRET).toBe('bigip-credentials/bigip-egress-login');

    const port = await freePort();
    const proc = start(port);
    await eventually(async () => (await httpGet(port, '/readyz')).status === 200, 'the child to be ready', 30_000, 100);
    await eventually(() => listsConverged(world), 'the child to fill the lists', 30_000);
    kube.apply(pod('payments', 'checkout-3', { labels: { app: 'checkout' }, ips: ['10.1.0.3'] }));
    kube.delete(podRef('payments', 'checkout-1'));
    await eventually(() => listsConverged(world), 'the child to follow changes', 30_000);
    expect(deviceLists(world.emulators, world.plan)).toEqual(expectedLists(world.plan, clusterSnapshot(world.emulators)));

    const lease = () =>
      kube.get({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        namespace: world.deployment.namespace,
        name: world.deployment.env.LEASE_NAME,
      }) as any;
    expect(lease().spec.holderIdentity).toBe('controller-0');
    expect(bigip.activeTokenCount('egress-a')).toBe(1);

    proc.child.kill('SIGTERM');
    const exited = await withTimeout(proc.exited, 20_000, 'graceful shutdown');
    expect(exited).toMatchObject({ code: 0, signal: null });
    expect(bigip.activeTokenCount('egress-a')).toBe(0);
    expect(lease().spec.holderIdentity).toBe('');
    // Structured logs on stdout, one JSON object per line, ending with the shutdown.
    const lines = exited.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['caches listed', 'leading: pushing source lists', 'shutting down']));
    expect(lines.find((l) => l.msg === 'shutting down')?.signal).toBe('SIGTERM');
    expect(exited.stderr).toBe('');
  });

  test('a missing Secret key: the controller stays live and not ready, says which key and sets a metric, and starts once the key is there', async () => {
    const { kube } = world.emulators;
    const port = await freePort();
    const proc = start(port, { BIGIP_PASSWORD_KEY: 'bigip-password' });
    const expected =
      'Secret bigip-credentials/bigip-egress-login has no key "bigip-password"; it must hold the BIG-IP login under the keys "username" and "bigip-password"';
    // The server answers before the Secret is read ("not read yet"); wait for the read.
    await eventually(
      async () => {
        const r = await httpGet(port, '/readyz').catch(() => ({ status: 0, body: '{}' }));
        return r.status === 503 && (JSON.parse(r.body) as { waitingFor?: string }).waitingFor !== 'not read yet';
      },
      'the waiting controller to have read the Secret',
      30_000,
      100,
    );
    expect(await httpGet(port, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    expect(JSON.parse((await httpGet(port, '/readyz')).body)).toEqual({ status: 'not ready', waitingFor: expected });
    expect((await httpGet(port, '/metrics')).body).toMatch(/^cdktf_ces_waiting_for_configuration 1$/m);
    await eventually(() => proc.output().stdout.includes('waiting for configuration'), 'the log line', 10_000, 50);
    const waiting = proc
      .output()
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; missing?: string })
      .filter((l) => l.msg === 'waiting for configuration');
    expect(waiting).toEqual([expect.objectContaining({ level: 'warn', missing: expected })]);

    // The operator adds the key: the controller reads it, starts and becomes ready, no restart,
    // while a prober keeps one keep-alive connection busy (as a kubelet probing every 100 ms
    // would): the waiting server must let go of its port all the same.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const probe = () =>
      new Promise<number>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent, timeout: 2000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve(0));
      });
    let lastProbe = 0;
    const prober = setInterval(() => void probe().then((code) => (lastProbe = code)), 100);
    try {
      const secret = kube.get({ apiVersion: 'v1', kind: 'Secret', namespace: 'bigip-credentials', name: 'bigip-egress-login' }) as any;
      kube.apply({ ...secret, data: { ...secret.data, 'bigip-password': secret.data.password } });
      await eventually(() => lastProbe === 200, 'the controller to start once the key exists, while probed over keep-alive', 60_000, 100);
    } finally {
      clearInterval(prober);
      agent.destroy();
    }
    expect(proc.child.exitCode).toBeNull();
    proc.child.kill('SIGTERM');
    const exited = await withTimeout(proc.exited, 20_000, 'graceful shutdown');
    expect(exited).toMatchObject({ code: 0, signal: null });
    expect(exited.stdout).toContain('configuration read from the cluster');
  });

  describe('malformed configuration: exit 1 with exactly one line on stderr, no stack trace', () => {
    const badKubeconfig = () => {
      const file = path.join(world.emulators.workdir, 'broken-kubeconfig');
      fs.writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: [oops\n');
      return file;
    };
    const cases: Array<[string, () => Record<string, string>, RegExp]> = [
      [
        'no BIG-IP URL',
        () => ({ BIGIP_URL: '' }),
        /^cdktf-ces-controller: configuration error: BIGIP_URL: not set; set it to the BIG-IP management URL/,
      ],
      [
        'an unreadable CA bundle',
        () => ({ BIGIP_CA_FILE: path.join(world.emulators.workdir, 'no-such-ca.crt') }),
        /^cdktf-ces-controller: configuration error: BIGIP_CA_FILE: cannot read .*no-such-ca\.crt \(ENOENT\)/,
      ],
      [
        'a BIG-IP login Secret that is not namespace/name',
        () => ({ BIGIP_CREDENTIALS_SECRET: 'bigip-egress-login' }),
        /^cdktf-ces-controller: configuration error: BIGIP_CREDENTIALS_SECRET: "bigip-egress-login" must be namespace\/name/,
      ],
      [
        'a kubeconfig that is not YAML',
        () => ({ KUBECONFIG: badKubeconfig() }),
        /^cdktf-ces-controller: configuration error: .*broken-kubeconfig/,
      ],
    ];

    test.each(cases)('%s', async (_name, env, message) => {
      const port = await freePort();
      const proc = start(port, env());
      const exited = await withTimeout(proc.exited, 20_000, 'the controller to exit');
      expect(exited.code).toBe(1);
      expect(exited.stdout).toBe('');
      const lines = exited.stderr.split('\n').filter((l) => l !== '');
      expect(lines).toHaveLength(1);
      expect(exited.stderr.endsWith('\n')).toBe(true);
      expect(lines[0]).toMatch(message);
      expect(exited.stderr).not.toMatch(/\n\s+at |Error: |node:internal/);
      // The probes would fail: nothing listens on the probe port any more.
      await expect(httpGet(port, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      await expect(httpGet(port, '/readyz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    test('the synthesized Deployment shows that line as the termination message and probes the port the process listens on', () => {
      const d = world.emulators.kube.get({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: world.deployment.namespace,
        name: world.deployment.name,
      }) as any;
      const container = d.spec.template.spec.containers[0];
      // On a non-zero exit the kubelet copies the end of the container log into
      // status.containerStatuses[].state.terminated.message: the one line above.
      expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
      const httpPort = container.ports.find((p: { name: string }) => p.name === 'http');
      expect(httpPort.containerPort).toBe(8080);
      expect(container.env).toEqual(expect.arrayContaining([{ name: 'HTTP_PORT', value: String(httpPort.containerPort) }]));
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(container.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    });
  });
});
