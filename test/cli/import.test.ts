import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli, write } from './support';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'ces');
const fixture = (name: string) => path.join(FIXTURES, name);

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-import-cli-'));
  fs.copyFileSync(fixture('egress-policy.yaml'), path.join(dir, 'ces.yaml'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** stderr lines without the program prefix. */
function lines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^cdktf-ces import: /, ''));
}

describe('import: exit codes and reports', () => {
  test('something not carried over: the module is still written, the items are listed on stderr and in its header, exit 1', async () => {
    const r = await cli(dir, 'import', 'ces.yaml', '-o', 'policy.ts');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      'not carried over: ces.yaml:65 ClusterEgressRule proxy-for-all spec.action "accept": not imported (kept commented out): CES accept at the cluster level allows nothing by itself (its flows still end in the CES drop-all unless a ServiceEgressRule accepts them); a cdktf-ces ALLOW here would allow them. Enable it as ALLOW only if these flows should be allowed; the imported policy gives the same verdicts as CES without it, but loses its log lines',
      'note: ces.yaml:135 ServiceEgressRule payments/checkout-to-stripe ExternalService payments/stripe spec.ports[0].bandwidth "bwc-10mbps-irule": names the BIG-IP iRule /Common/bwc-10mbps-irule; imported as bandwidthLimit 10 Mbps, the rate its name states: check that the iRule\'s bandwidth controller has that rate',
      'note: ces.yaml:171 ServiceEgressRule payments/comments-no-bank ExternalService payments/stripe spec.ports[0].bandwidth "bwc-10mbps-irule": left out: a reject rule lets nothing through, so the iRule limited nothing',
      'note: ces.yaml:213 NamespaceEgressRule web/partner spec.action "accept-decisively": overlaps NamespaceEgressRule web/no-partner-admin (drop), for example at 198.51.100.40:443/tcp: in CES whichever its controller wrote first decided; the import lets drop decide',
      'wrote policy.ts: 9 ExternalServices and 11 rules from 18 CES objects; 1 item not carried over, 3 notes (exit code 1: review the items above, then re-run with --allow-partial to accept them)',
    ]);
    const module = fs.readFileSync(path.join(dir, 'policy.ts'), 'utf8');
    expect(module).toContain(
      '// Not carried over (1; the import fails without --allow-partial while any are listed):\n//   - ces.yaml:65 ClusterEgressRule proxy-for-all spec.action "accept": not',
    );
    expect(module).toContain("    // new ClusterEgressRule(scope, 'Cluster_proxy-for-all', {");
    expect(module).toContain(
      "import { AfmDevice, BandwidthUnit, ClusterEgressRule, EgressAction, EgressDestination, EgressPort, ExternalService, NamespaceEgressRule, ServiceEgressRule } from 'cdktf-ces';",
    );
  });

  test('--allow-partial accepts the listed items: exit 0, module on stdout', async () => {
    const r = await cli(dir, 'import', 'ces.yaml', '--allow-partial');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\/\/ Egress policy imported by "cdktf-ces import"/);
    expect(r.stdout).toContain('export function addMigratedEgressPolicy(scope: Construct, device: AfmDevice) {');
    expect(lines(r.stderr).pop()).toBe('imported 9 ExternalServices and 11 rules from 18 CES objects; 1 item not carried over, 3 notes');
  });

  test('a CES rule whose ExternalServices have different ports becomes one rule per port set', async () => {
    const r = await cli(dir, 'import', 'ces.yaml', '--allow-partial');
    const rule = (name: string) =>
      r.stdout.slice(r.stdout.indexOf(`name: '${name}'`), r.stdout.indexOf('}),', r.stdout.indexOf(`name: '${name}'`)));
    expect(rule('bank-transfer-tcp22')).toContain(
      "destinations: [EgressDestination.externalService(externalServices['payments-bank-sftp'])],\n      ports: [EgressPort.tcp(22)],",
    );
    expect(rule('bank-transfer-tcp22-989to990-udp500-4500')).toContain(
      "destinations: [EgressDestination.externalService(externalServices['payments-settlement'])],\n      ports: [EgressPort.tcp(22), EgressPort.tcpRange(989, 990), EgressPort.udp(500), EgressPort.udp(4500)],",
    );
    expect(r.stdout).not.toContain("name: 'bank-transfer',");
  });

  test('a clean export (kind: List from kubectl) imports with exit 0 and nothing left out', async () => {
    const r = await cli(dir, 'import', fixture('exported-list.yaml'));
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('not carried over:');
    expect(r.stdout).toContain('// Not carried over (0):\n//   (none)');
    expect(r.stdout).toContain('bandwidthLimit: { maxBandwidth: 50, unit: BandwidthUnit.MBPS },');
    // CES gives a protocol the bandwidth iRule of its last entry: 9092 was limited as well.
    expect(r.stdout).toContain(
      'ports: [EgressPort.tcp(9092), EgressPort.tcpRange(9093, 9094)],\n      // CES bandwidth iRule /Common/50Mbps',
    );
    expect(lines(r.stderr)).toContain(
      `note: ${fixture('exported-list.yaml')}:71 ExternalService analytics/kafka spec.ports[0].bandwidth "": CES gives each protocol of an ExternalService one iRule, that of its last entry, so these tcp ports had the bandwidth "50Mbps" of spec.ports[1] (imported so)`,
    );
  });

  test('partial: each thing that cannot be carried over is named (resource, field, value, why)', async () => {
    const r = await cli(dir, 'import', fixture('partial.yaml'), '--allow-partial');
    expect(r.code).toBe(0);
    const notCarried = lines(r.stderr)
      .filter((l) => l.startsWith('not carried over: '))
      .map((l) => l.slice('not carried over: '.length).replace(FIXTURES + path.sep, ''));
    expect(notCarried.map((l) => l.split(': ')[0])).toEqual([
      'partial.yaml:2 ExternalService media/media-cdn spec.ports[1] {"name":"ping","protocol":"ICMP","port":"8"}',
      'partial.yaml:2 ExternalService media/media-cdn spec.ports[2] {"name":"quic","protocol":"QUIC","port":"443"}',
      'partial.yaml:24 ServiceEgressRule media/player-to-cdn ExternalService media/media-cdn spec.ports[0].bandwidth "gold-tier"',
      'partial.yaml:36 NamespaceEgressRule uploads metadata.namespace nothing',
      'partial.yaml:45 ExternalService upload-target metadata.namespace nothing',
    ]);
    expect(notCarried[1]).toContain('"quic" is not an AFM protocol name');
    expect(notCarried[2]).toContain('whose rate cannot be read from its name');
    expect(lines(r.stderr)).toContain(
      `note: ${fixture('partial.yaml')}:2 ExternalService media/media-cdn spec.ports[3] {"name":"echo","protocol":"ICMP"}: has no port, and CES skips port entries without one, so it never applied; add the port (or, for ICMP, EgressPort.icmp() on the imported rules) if it was meant`,
    );
    // What is carried over of the partial rule: the TCP port, without the limit.
    expect(r.stdout).toContain("ports: [EgressPort.tcp(443)],\n      description: 'CES ServiceEgressRule media/player-to-cdn',");
  });

  test('--namespace gives namespaced objects without one a namespace, as kubectl apply -n does', async () => {
    const r = await cli(dir, 'import', fixture('partial.yaml'), '--namespace', 'media');
    expect(r.stderr).not.toContain('metadata.namespace');
    expect(r.stdout).toContain("name: 'uploads',\n      namespace: 'media',");
    expect(r.code).toBe(1);
  });
});

describe('import: bad input, one line each, exit 2', () => {
  test('every problem of the file: resource, field, value, fix', async () => {
    const r = await cli(FIXTURES, 'import', 'invalid.yaml');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      'invalid.yaml:1 apiVersion: is not the CES API version for ClusterEgressRule (got "kubeovn.io/v1"); write apiVersion: kubeovn.io/v1alpha1',
      'invalid.yaml:9 kind: is not a CES kind the import reads (got "ConfigMap"); write one of ClusterEgressRule, NamespaceEgressRule, ServiceEgressRule, ExternalService (other objects do not belong in a CES manifest for import)',
      'invalid.yaml:16 ClusterEgressRule no-action spec.action: is required (got nothing); write one of accept, drop, accept-decisively, reject',
      'invalid.yaml:23 ClusterEgressRule allow-all spec.action: is not a CES action (got "allow"); write one of accept, drop, accept-decisively, reject',
      'invalid.yaml:31 ServiceEgressRule shop/no-service spec.service: is required (got nothing); name the Service (a DNS label such as "checkout") whose pods the rule applies to',
      'invalid.yaml:40 ServiceEgressRule shop/to-missing spec.externalServices[0]: names no ExternalService in namespace shop (got "payment-api"); add ExternalService shop/payment-api to the input, or fix the name',
      'invalid.yaml:50 ExternalService shop/payments-api spec.addresses[0]: is a CIDR, but the CRD takes single IP addresses (CES would hand it to AFM as a DNS name, which AFM refuses) (got "203.0.113.0/24"); list the addresses one by one (after the import, EgressDestination.cidr() or range() can replace them)',
      'invalid.yaml:50 ExternalService shop/payments-api spec.addresses[1]: is not an IPv4 address (got "999.1.2.3"); write an IPv4 or IPv6 address such as 192.0.2.10',
      'invalid.yaml:50 ExternalService shop/payments-api spec.ports[0].port: is not a string (the CRD types it as string) (got 443); quote it: port: "443"',
      'invalid.yaml:50 ExternalService shop/payments-api spec.ports[1].port: range 9000-80 is reversed (got "9000-80"); use ports from 1 to 65535, ranges low-high',
      'invalid.yaml:50 ExternalService shop/payments-api spec.ports[2].port: does not match the CRD pattern (ports and ranges separated by commas) (got "https"); write ports like "443" or "80,8000-8080"',
      '11 problems in invalid.yaml; nothing written',
    ]);
  });

  test('malformed YAML', async () => {
    const r = await cli(FIXTURES, 'import', 'malformed.yaml');
    expect(r.code).toBe(2);
    expect(lines(r.stderr)[0]).toMatch(/^malformed\.yaml:8 document 1: is not valid YAML \(got ".+"\); fix the YAML syntax$/);
  });

  test("a ClusterEgressRule's ExternalService must be in kube-system, where CES looks for it", async () => {
    write(
      dir,
      'wrong-ns.yaml',
      `apiVersion: kubeovn.io/v1alpha1
kind: ExternalService
metadata: { name: dns, namespace: default }
spec: { addresses: [10.96.0.10] }
---
apiVersion: kubeovn.io/v1alpha1
kind: ClusterEgressRule
metadata: { name: allow-dns }
spec: { action: accept-decisively, externalServices: [dns] }
`,
    );
    const r = await cli(dir, 'import', 'wrong-ns.yaml');
    expect(r.code).toBe(2);
    expect(lines(r.stderr)[0]).toBe(
      'wrong-ns.yaml:6 ClusterEgressRule allow-dns spec.externalServices[0]: names no ExternalService in namespace kube-system (CES looks up a ClusterEgressRule\'s ExternalServices in kube-system) (got "dns"); ExternalService dns is in namespace default; define it in kube-system',
    );
  });

  test('duplicates, a missing spec, a wrong type, an empty address list', async () => {
    write(
      dir,
      'more.yaml',
      `apiVersion: kubeovn.io/v1alpha1
kind: ExternalService
metadata: { name: a, namespace: x }
spec: { addresses: [] }
---
apiVersion: kubeovn.io/v1alpha1
kind: ExternalService
metadata: { name: a, namespace: x }
spec: { addresses: [192.0.2.1] }
---
apiVersion: kubeovn.io/v1alpha1
kind: NamespaceEgressRule
metadata: { name: n, namespace: x }
---
apiVersion: kubeovn.io/v1alpha1
kind: NamespaceEgressRule
metadata: { name: m, namespace: x }
spec: { action: drop, logging: "yes", externalServices: a }
`,
    );
    const r = await cli(dir, 'import', 'more.yaml');
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([
      'more.yaml:1 ExternalService x/a spec.addresses: is empty, so the service has no destination (got []); list at least one IP address',
      'more.yaml:6 metadata.name: ExternalService x/a is defined twice (first at more.yaml:1) (got "a"); keep one definition',
      'more.yaml:11 NamespaceEgressRule x/n spec: is missing (got nothing); give spec.action and spec.externalServices',
      'more.yaml:15 NamespaceEgressRule x/m spec.logging: is not true or false (got "yes"); write logging: true or logging: false',
      'more.yaml:15 NamespaceEgressRule x/m spec.externalServices: is not a list (got "a"); list the names of the ExternalServices the rule applies to',
      '5 problems in more.yaml; nothing written',
    ]);
  });

  test.each([
    [['import'], 'import needs the CES manifest file (got nothing); usage: cdktf-ces import <ces.yaml> [-o <module.ts>]'],
    [
      ['import', 'missing.yaml'],
      'cannot read the CES manifest file (got "missing.yaml"); it does not exist; export the objects with "kubectl get cgr,nsgr,svcgr,exsvc -A -o yaml > ces.yaml"',
    ],
    [
      ['import', 'ces.yaml', '--cluster', 'Prod_East'],
      '--cluster (got "Prod_East"); write the clusterName of the AfmDevice: a DNS label of at most 40 characters',
    ],
    [['import', 'ces.yaml', '-n', 'Bad NS'], '--namespace (got "Bad NS"); write a namespace name (a DNS label such as "payments")'],
    [
      ['import', 'ces.yaml', '-o', 'no/such/dir/x.ts'],
      '-o names a file in a folder that does not exist (got "no/such/dir/x.ts"); create the folder first, or write elsewhere',
    ],
  ])('%j', async (argv, message) => {
    const r = await cli(dir, ...argv);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `cdktf-ces import: ${message}\n` });
  });

  test('an empty file', async () => {
    write(dir, 'empty.yaml', '# nothing yet\n');
    const r = await cli(dir, 'import', 'empty.yaml');
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'cdktf-ces import: empty.yaml holds no CES objects (got an empty document); export them with "kubectl get cgr,nsgr,svcgr,exsvc -A -o yaml"\n',
    });
  });
});
