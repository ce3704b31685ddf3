/**
 * explain --kubeconfig: the cluster state read from the Kubernetes API emulator through the
 * controller's client.
 */
import * as path from 'node:path';
import { buildPayments } from '../../examples/payments/main';
import { KubeApiEmulator } from '../emulators/kube/emulator';
import { cli, synthInto } from './support';

let dir: string;
let emulator: KubeApiEmulator;

beforeAll(async () => {
  dir = synthInto(buildPayments);
  emulator = await KubeApiEmulator.start({ namespaces: ['default', 'kube-system', 'payments'] });
  // More pods than one list page, so paging is exercised.
  for (let i = 0; i < 520; i++) {
    emulator.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `checkout-${i}`, namespace: 'payments', labels: { app: 'checkout' } },
      spec: { containers: [{ name: 'app', image: 'checkout' }] },
      status: { phase: 'Running', podIP: `10.244.${i >> 8}.${i & 255}`, podIPs: [{ ip: `10.244.${i >> 8}.${i & 255}` }] },
    });
  }
  emulator.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'checkout', namespace: 'payments' },
    spec: { selector: { app: 'checkout' }, ports: [{ port: 443 }] },
  });
  emulator.writeKubeconfig(path.join(dir, 'kubeconfig.yaml'));
});

afterAll(async () => {
  await emulator.stop();
});

test('a Service of the live cluster picks one of its pods', async () => {
  const r = await cli(
    dir,
    'explain',
    '--from',
    'payments/checkout',
    '--to',
    'api.stripe.com:443',
    '--kubeconfig',
    'kubeconfig.yaml',
    '--resolve',
    'api.stripe.com=203.0.113.10',
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('from:        pod payments/checkout-0 (10.244.0.0; Running), one of 520 pods Service checkout selects');
  expect(r.stdout).toContain('decided by ServiceEgressRule payments/checkout-to-stripe');
});

test('a pod of the live cluster by name; an unknown one is bad input', async () => {
  const ok = await cli(dir, 'explain', '--from', 'payments/checkout-519', '--to', '10.96.0.10:53/udp', '--kubeconfig', 'kubeconfig.yaml');
  expect(ok.stdout).toContain('from:        pod payments/checkout-519 (10.244.2.7; Running)');
  const missing = await cli(dir, 'explain', '--from', 'payments/nope', '--to', '10.96.0.10:53/udp', '--kubeconfig', 'kubeconfig.yaml');
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/--from names no Pod or Service of namespace payments in the cluster of .*kubeconfig.yaml/);
});

test.each([
  [
    ['--kubeconfig', 'missing.yaml'],
    /cannot read the --kubeconfig file \(got "missing.yaml"\); it does not exist; point --kubeconfig at the kubeconfig of the cluster/,
  ],
  [['--kubeconfig', 'kubeconfig.yaml', '--context', 'other'], /context/],
  [['--context', 'emulator', '--state', 'state.yaml'], /--context and --state both give the cluster state/],
  [['--kubeconfig', 'kubeconfig.yaml', '--state', 'state.yaml'], /--kubeconfig and --state both give the cluster state/],
])('%j is bad input', async (args, message) => {
  const r = await cli(dir, 'explain', '--from', 'payments/checkout', '--to', '10.96.0.10:53/udp', ...args);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
});

test('rejected credentials are bad input with a fix', async () => {
  emulator.writeKubeconfig(path.join(dir, 'wrong.yaml'), { token: 'not-the-token' });
  const r = await cli(dir, 'explain', '--from', 'payments/checkout', '--to', '10.96.0.10:53/udp', '--kubeconfig', 'wrong.yaml');
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /cannot read the cluster of .*wrong.yaml .*401.*; the credentials of the kubeconfig may not list pods, namespaces and services/,
  );
});
