/**
 * `kubectl egress ...` through kubectl itself: kubectl finds `kubectl-egress` on PATH and runs
 * it with the arguments after `egress`; the cluster comes from the current kubeconfig context.
 * Skipped where kubectl is not installed.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildPayments } from '../../examples/payments/main';
import { KubeApiEmulator } from '../emulators/kube/emulator';
import { synthInto, write } from './support';

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
const withKubectl = kubectl ? describe : describe.skip;

let dir: string;
let emulator: KubeApiEmulator;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!kubectl) return;
  dir = synthInto(buildPayments);
  emulator = await KubeApiEmulator.start({ namespaces: ['default', 'kube-system', 'payments'] });
  emulator.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'checkout-0', namespace: 'payments', labels: { app: 'checkout' } },
    spec: { containers: [{ name: 'app', image: 'checkout' }] },
    status: { phase: 'Running', podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }] },
  });
  emulator.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'checkout', namespace: 'payments' },
    spec: { selector: { app: 'checkout' }, ports: [{ port: 443 }] },
  });
  // What the package's "kubectl-egress" bin is, run from the sources.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const entry = path.resolve(__dirname, '../../lib/cli/kubectl-plugin.ts');
  fs.writeFileSync(
    path.join(bin, 'kubectl-egress'),
    `#!/bin/sh\nexec "${process.execPath}" -r "${require.resolve('tsx/cjs')}" "${entry}" "$@"\n`,
    { mode: 0o755 },
  );
  const home = path.join(dir, 'home');
  fs.mkdirSync(path.join(home, '.kube'), { recursive: true });
  emulator.writeKubeconfig(path.join(home, '.kube', 'config'));
  env = { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, HOME: home };
});

afterAll(async () => {
  await emulator?.stop();
});

function kubectlRun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { cwd: dir, env, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

withKubectl('kubectl egress', () => {
  test('kubectl lists the plugin', async () => {
    const r = await kubectlRun('plugin', 'list');
    expect(r.stdout).toContain(path.join(dir, 'bin', 'kubectl-egress'));
    expect(r.stderr).not.toMatch(/warning/i);
  });

  test('explain reads the cluster of the current context (~/.kube/config)', async () => {
    const r = await kubectlRun(
      'egress',
      'explain',
      '--from',
      'payments/checkout',
      '--to',
      'api.stripe.com:443',
      '--resolve',
      'api.stripe.com=203.0.113.10',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('from:        pod payments/checkout-0 (10.244.0.9; Running), the pod Service checkout selects');
    expect(r.stdout).toContain('decided by ServiceEgressRule payments/checkout-to-stripe');
  });

  test('simulate passes its file and exit code through', async () => {
    write(dir, 'flows.yaml', '- { from: payments/checkout, to: "api.stripe.com:443", expect: deny }\n');
    const r = await kubectlRun('egress', 'simulate', 'flows.yaml', '--resolve', 'api.stripe.com=203.0.113.10');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 of 1 flows as expected; 1 mismatch');
  });

  test('any command reaches the tool, which names itself kubectl egress', async () => {
    const r = await kubectlRun('egress', 'no-such-command');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kubectl egress: unknown command \(got "no-such-command"\); commands are .*; run "kubectl egress --help"\n$/);
  });
});
