/**
 * One app, synthesized in versions and deployed to the BIG-IP emulator in Terraform's order,
 * with what the tests need around it: the controller's list pushes (computed independently
 * from the membership model), `terraform destroy` of the BIG-IP resources as the provider does
 * it, `verify` run programmatically and through the CLI, and the AFM evaluator over the
 * device's state held against the intent evaluator.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
  ServiceEgressRule,
  SharedBigip,
} from '../../lib';
import { AfmRuleIndex } from '../../lib/afm/evaluator';
import { verifyCommandWith } from '../../lib/cli/commands/verify';
import { parseCommandArgs } from '../../lib/cli/registry';
import { ClusterSnapshot, PodInfo, desiredMembers } from '../../lib/policy/membership';
import { evaluateIntent } from '../../lib/policy/intent';
import { Emulators, readStacks } from '../emulators/deploy';
import {
  DeviceVerification,
  ExpectedDevice,
  VerifyProblem,
  bigipDeviceReader,
  expectedDevices,
  observedFirewall,
  verifyDevice,
} from '../../lib/verify';
import { loginRaw, raw } from '../controller/bigip/support';
import { afmReading, intentReading } from '../verification/harness';

export const RESOLVER = '/Common/egress-resolver';
export const ROUTE_DOMAINS = ['/Common/0', '/Common/2'];
export const NTP_HOST = 'time.example.net';
export const DNS_ANSWERS: ReadonlyMap<string, readonly string[]> = new Map([[NTP_HOST, ['192.0.2.123']]]);

/** What changes between the versions of the app. */
export interface AppVersion {
  /**
   * Cluster alpha on a SharedBigip together with cluster beta; else alpha owns its BIG-IP.
   * @default false
   */
  readonly shared?: boolean;
  /** The cluster NTP rule (an FQDN destination). */
  readonly ntp?: boolean;
  /** The service rule of payments/checkout. */
  readonly serviceRule?: boolean;
  /** An audit rule (staged policies). */
  readonly audit?: boolean;
  /** The namespace rule of `web` is called `web-tls` instead of `web-https`. */
  readonly renamed?: boolean;
  /** Route domain of cluster alpha. */
  readonly routeDomain?: number;
  /**
   * Cluster ALLOW rules of alpha, whose sources are lists the controller fills: one over every
   * pod, one over the `payments` namespace.
   */
  readonly clusterAllows?: boolean;
  /**
   * Route domain of cluster beta (on a shared BIG-IP).
   * @default 2
   */
  readonly betaRouteDomain?: number;
}

const CONNECTION = { address: 'bigip.example.net', tlsCaBundlePath: '/etc/ssl/bigip-ca.pem' };

/**
 * Cluster alpha (the one that changes) in its own stack, the CRD stack first; on a shared
 * BIG-IP the SharedBigip in a stack of its own and cluster beta in a third.
 */
export function buildApp(app: App, v: AppVersion): void {
  const crds = new EgressCrdStack(app, 'crds');
  const shared = v.shared
    ? new SharedBigip(new TerraformStack(app, 'shared'), 'Bigip', { ...CONNECTION, dnsResolver: RESOLVER })
    : undefined;
  const connection = shared ? { sharedBigip: shared } : { ...CONNECTION, dnsResolver: RESOLVER };
  const alphaStack = new TerraformStack(app, 'alpha');
  new KubernetesProvider(alphaStack, 'k8s', {});
  const alpha = new AfmDevice(alphaStack, 'Device', {
    clusterName: 'alpha',
    ...connection,
    crdStack: crds,
    podCidrs: ['10.1.0.0/16'],
    routeDomain: v.routeDomain ?? 0,
  });
  new ClusterEgressRule(alphaStack, 'Dns', {
    device: alpha,
    name: 'dns',
    action: EgressAction.ALLOW_FINAL,
    priority: 100,
    destinations: [EgressDestination.address('10.96.0.10')],
    ports: [EgressPort.DNS_UDP],
  });
  new ClusterEgressRule(alphaStack, 'BlockC2', {
    device: alpha,
    name: 'block-c2',
    action: EgressAction.DENY,
    priority: 0,
    destinations: [EgressDestination.cidr('203.0.113.0/24')],
  });
  if (v.ntp)
    new ClusterEgressRule(alphaStack, 'Ntp', {
      device: alpha,
      name: 'ntp',
      action: EgressAction.ALLOW_FINAL,
      priority: 110,
      destinations: [EgressDestination.fqdn(NTP_HOST)],
      ports: [EgressPort.NTP],
    });
  if (v.clusterAllows) {
    new ClusterEgressRule(alphaStack, 'Partner', {
      device: alpha,
      name: 'partner',
      action: EgressAction.ALLOW,
      priority: 200,
      destinations: [EgressDestination.cidr('192.0.2.0/24')],
      ports: [EgressPort.NTP],
    });
    new ClusterEgressRule(alphaStack, 'PaymentsOut', {
      device: alpha,
      name: 'payments-out',
      action: EgressAction.ALLOW,
      priority: 210,
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'payments' } },
      destinations: [EgressDestination.address('192.0.2.99')],
      ports: [EgressPort.tcp(8443)],
    });
  }
  new NamespaceEgressRule(alphaStack, 'WebHttps', {
    device: alpha,
    name: v.renamed ? 'web-tls' : 'web-https',
    namespace: 'web',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.anyIpv4()],
    ports: [EgressPort.HTTPS],
  });
  if (v.serviceRule) {
    new ServiceEgressRule(alphaStack, 'CheckoutStripe', {
      device: alpha,
      name: 'checkout-stripe',
      namespace: 'payments',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('198.51.100.0/24')],
      ports: [EgressPort.HTTPS],
    });
  }
  if (v.audit)
    new NamespaceEgressRule(alphaStack, 'NoSmtp', {
      device: alpha,
      name: 'no-smtp',
      namespace: 'web',
      action: EgressAction.DENY,
      priority: 10,
      destinations: [EgressDestination.anyIpv4()],
      ports: [EgressPort.SMTP],
      audit: true,
    });
  if (!shared) return;
  const betaStack = new TerraformStack(app, 'beta');
  new KubernetesProvider(betaStack, 'k8s', {});
  const beta = new AfmDevice(betaStack, 'Device', {
    clusterName: 'beta',
    sharedBigip: shared,
    crdStack: crds,
    podCidrs: ['10.2.0.0/16'],
    routeDomain: v.betaRouteDomain ?? 2,
  });
  new ClusterEgressRule(betaStack, 'Dns', {
    device: beta,
    name: 'dns',
    action: EgressAction.ALLOW_FINAL,
    priority: 100,
    destinations: [EgressDestination.address('10.96.0.10')],
    ports: [EgressPort.DNS_UDP],
  });
}

const dirs: string[] = [];

/** Synthesizes a version of the app; returns the working directory (holding `cdktf.out`). */
export function synth(v: AppVersion, build: (app: App, v: AppVersion) => void = buildApp): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-verify-'));
  dirs.push(dir);
  const app = new App({ outdir: path.join(dir, 'cdktf.out') });
  build(app, v);
  app.synth();
  return dir;
}

export function removeSynthDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

const pod = (namespace: string, name: string, ip: string, labels: Record<string, string> = {}): PodInfo => ({
  namespace,
  name,
  labels,
  ips: [ip],
  phase: 'Running',
});

/** The pods of both clusters (alpha 10.1/16, beta 10.2/16). */
export const CLUSTERS: Readonly<Record<'alpha' | 'beta', ClusterSnapshot>> = {
  alpha: {
    namespaces: [
      { name: 'web', labels: { 'kubernetes.io/metadata.name': 'web' } },
      { name: 'payments', labels: { 'kubernetes.io/metadata.name': 'payments' } },
    ],
    services: [{ namespace: 'payments', name: 'checkout', selector: { app: 'checkout' } }],
    pods: [
      pod('web', 'web-1', '10.1.1.10', { app: 'web' }),
      pod('payments', 'checkout-1', '10.1.2.10', { app: 'checkout' }),
      pod('payments', 'batch-1', '10.1.2.11', { app: 'batch' }),
    ],
  },
  beta: {
    namespaces: [{ name: 'api', labels: { 'kubernetes.io/metadata.name': 'api' } }],
    services: [],
    pods: [pod('api', 'api-1', '10.2.1.10', { app: 'api' })],
  },
};

/** A cluster as `kubectl get pods,namespaces,services -A -o yaml` shows it (JSON is YAML). */
export function stateFile(snapshot: ClusterSnapshot): string {
  const items = [
    ...snapshot.namespaces.map((n) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: n.labels } })),
    ...snapshot.services.map((s) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: s.namespace, name: s.name },
      spec: { selector: s.selector },
    })),
    ...snapshot.pods.map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
      spec: { containers: [{ name: 'app', image: 'app' }] },
      status: { phase: p.phase, podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) },
    })),
  ];
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

const clusterOf = (d: ExpectedDevice) => (d.tenant === 'k8s_alpha' ? CLUSTERS.alpha : CLUSTERS.beta);

/** Pushes every list of every device of the output as the controller would (`ip%rd` outside route domain 0). */
export async function pushLists(dir: string, emulators: Emulators, at = new Date()): Promise<void> {
  for (const device of expectedDevices('cdktf.out', dir)) {
    for (const [listPath, ips] of desiredMembers(device.plan, clusterOf(device), at)) {
      const list = device.plan.lists.find((l) => l.path === listPath);
      await emulators.bigipClient.replaceListMembers(list!.taskId, ips, device.plan.routeDomain);
    }
  }
}

/**
 * `terraform destroy` of the BIG-IP resources: stacks in reverse dependency order; in each,
 * the `bigip_command`s with `when: destroy` run their commands (they depend on the declaration,
 * so they go first), then `bigip_as3` deletes its tenants (`DELETE /declare/<tenants>?async=true`,
 * terraform-provider-bigip v1.28 `resourceBigipAs3Delete`, go-bigip `DeleteAs3Bigip`).
 */
export async function destroyBigip(dir: string, emulators: Emulators): Promise<void> {
  const token = await loginRaw(emulators.bigip);
  for (const stack of readStacks(path.join(dir, 'cdktf.out')).reverse()) {
    for (const r of Object.values(stack.resources.bigip_command ?? {})) {
      if (r.when === 'destroy') for (const c of r.commands as string[]) await emulators.bigipClient.runTmsh(c);
    }
    for (const r of Object.values(stack.resources.bigip_as3 ?? {})) {
      const declaration = JSON.parse(r.as3_json as string).declaration as Record<string, { class?: string }>;
      const tenants = Object.keys(declaration).filter((k) => declaration[k]?.class === 'Tenant');
      const answer = await raw(emulators.bigip, 'DELETE', `/mgmt/shared/appsvcs/declare/${tenants.join(',')}?async=true`, { token });
      for (;;) {
        const task = await emulators.bigipClient.getAs3Task(answer.json.id as string);
        if (task.results.every((x) => x.code !== 0)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }
}

/** `verify` of every device of the output, programmatically, with each device's cluster state. */
export async function verifyAll(dir: string, emulators: Emulators, at = new Date()): Promise<DeviceVerification[]> {
  const reader = bigipDeviceReader(emulators.bigipClient);
  const out: DeviceVerification[] = [];
  for (const device of expectedDevices('cdktf.out', dir)) {
    out.push(await verifyDevice(device, reader, { cluster: { snapshot: clusterOf(device), source: `cluster ${device.tenant}` }, at }));
  }
  return out;
}

export const errorsOf = (results: readonly DeviceVerification[]): VerifyProblem[] =>
  results.flatMap((r) => r.problems.filter((p) => p.severity === 'error'));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `cdktf-ces verify` against the emulator, with the credentials and CA in its environment. */
export async function verifyCli(dir: string, emulators: Emulators, ...argv: string[]): Promise<CliRun> {
  const command = verifyCommandWith({ env: { BIGIP_USER: 'admin', BIGIP_PASSWORD: 'admin', BIGIP_CA_FILE: emulators.caFile } });
  let stdout = '';
  let stderr = '';
  const code = await command.run(parseCommandArgs(command, ['--bigip-url', emulators.bigip.url, ...argv]), {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    cwd: dir,
  });
  return { code, stdout, stderr };
}

const DESTINATIONS = [
  { destinationIp: '10.96.0.10', protocol: 'udp', port: 53 },
  { destinationIp: '203.0.113.5', protocol: 'tcp', port: 443 },
  { destinationIp: '198.51.100.7', protocol: 'tcp', port: 443 },
  { destinationIp: '192.0.2.123', protocol: 'udp', port: 123 },
  { destinationIp: '192.0.2.99', protocol: 'tcp', port: 25 },
  { destinationIp: '192.0.2.99', protocol: 'tcp', port: 443 },
];

/**
 * Every pod of a cluster to every destination: the readings (verdict, would-be verdict,
 * deciding rule, what each level decided) of the AFM evaluator over the device's state and of
 * the intent evaluator over the synthesized policy, that differ. Empty when they agree.
 */
export function disagreements(verification: DeviceVerification, device: ExpectedDevice, at = new Date()): string[] {
  const cluster = clusterOf(device);
  const { firewall, state } = observedFirewall(verification.observed, [device.tenant], DNS_ANSWERS);
  const owners = new AfmRuleIndex(device.model);
  const out: string[] = [];
  for (const p of cluster.pods) {
    for (const d of DESTINATIONS) {
      const intent = intentReading(
        evaluateIntent({ model: device.model, snapshot: cluster, dns: DNS_ANSWERS, flow: { pod: p, sourceIp: p.ips[0], ...d }, at }),
      );
      let afm: unknown;
      try {
        afm = afmReading(firewall.evaluate({ sourceIp: p.ips[0], routeDomain: device.plan.routeDomain, ...d }, state), owners);
      } catch (e) {
        // A rule the policy does not have decided (a stale object still attached).
        afm = (e as Error).message;
      }
      if (JSON.stringify(intent) !== JSON.stringify(afm))
        out.push(
          `${p.namespace}/${p.name} → ${d.destinationIp}:${d.port}/${d.protocol}: intent ${JSON.stringify(intent)}, device ${JSON.stringify(afm)}`,
        );
    }
  }
  return out;
}
