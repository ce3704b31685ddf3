/**
 * The flow-log receiver deployed with the EgressController: what the construct renders (a
 * Service TCP and UDP, container ports, the plan's rule attribution), what it refuses (a device
 * that sends its logs elsewhere), and the controller's intake: records name the pod that held
 * the address at the event's time and the rule from the plan.
 */
import * as net from 'node:net';
import { Writable } from 'node:stream';
import {
  EgressAction,
  EgressController,
  EgressControllerProps,
  EgressDestination,
  EgressPort,
  FlowLogServiceType,
  NamespaceEgressRule,
} from '../../lib';
import { FlowLogIntake, podIdentity } from '../../lib/controller/flow-logs';
import type { PodInfo, ServiceInfo } from '../../lib/policy/membership';
import type { SyncPlan } from '../../lib/policy/plan';
import { Registry } from 'prom-client';
import { deviceStack, synthJson } from '../support/app';
import { issuesOf } from '../support/issues';
import { fieldListLine } from './support';

const CONTROLLER: Omit<EgressControllerProps, 'device'> = { credentialsSecret: 'bigip-login', caBundleConfigMap: 'bigip-ca' };

function manifests(stack: Parameters<typeof synthJson>[0]): any[] {
  return Object.values(synthJson(stack).resource.kubernetes_manifest as Record<string, { manifest: any }>).map((r) => r.manifest);
}

function setup(flowLogs?: EgressControllerProps['flowLogs'], servers: string[] = ['192.0.2.50:5514']) {
  const { stack, device } = deviceStack({ logging: { syslogServers: servers } });
  new NamespaceEgressRule(stack, 'BankSftp', {
    device,
    namespace: 'payments',
    name: 'bank-sftp',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    ports: [EgressPort.tcp(22)],
    logging: true,
    owner: 'team-payments',
    ticket: 'PAY-7',
  });
  const controller = new EgressController(stack, 'Controller', { device, ...CONTROLLER, ...(flowLogs ? { flowLogs } : {}) });
  return { stack, device, controller };
}

describe('EgressController flowLogs', () => {
  test('renders a TCP and UDP Service on the port, the pod ports and the env, and the plan names each rule', () => {
    const { stack } = setup({});
    const all = manifests(stack);
    const service = all.find((m) => m.kind === 'Service' && m.metadata.name.endsWith('-flowlog'));
    expect(service.spec).toEqual({
      type: 'LoadBalancer',
      selector: { 'app.kubernetes.io/name': 'cdktf-ces-controller', 'app.kubernetes.io/instance': 'cdktf-ces-controller-prod' },
      ports: [
        { name: 'flowlog-tcp', port: 5514, targetPort: 'flowlog-tcp', protocol: 'TCP' },
        { name: 'flowlog-udp', port: 5514, targetPort: 'flowlog-udp', protocol: 'UDP' },
      ],
    });
    const container = all.find((m) => m.kind === 'Deployment').spec.template.spec.containers[0];
    expect(container.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'flowlog-tcp', containerPort: 5514, protocol: 'TCP' },
      { name: 'flowlog-udp', containerPort: 5514, protocol: 'UDP' },
    ]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'FLOWLOG_PORT', value: '5514' },
        { name: 'FLOWLOG_QUEUE_LIMIT', value: '10000' },
      ]),
    );
    const plan: SyncPlan = JSON.parse(all.find((m) => m.kind === 'ConfigMap' && m.data?.['plan.json']).data['plan.json']);
    expect(plan.rules.map((r) => [r.key, r.attribution])).toEqual([
      [
        'namespace/payments/bank-sftp',
        {
          path: 'egress/BankSftp',
          action: 'ALLOW',
          mode: 'enforced',
          owner: 'team-payments',
          ticket: 'PAY-7',
          afmRules: ['n_payments_bank-sftp_tcp'],
        },
      ],
    ]);
  });

  test('without flowLogs: no Service, no ports, no env, and the plan carries no attribution', () => {
    const { stack } = setup(undefined);
    const all = manifests(stack);
    expect(all.filter((m) => m.kind === 'Service').map((m) => m.metadata.name)).toEqual(['cdktf-ces-controller-prod-metrics']);
    const container = all.find((m) => m.kind === 'Deployment').spec.template.spec.containers[0];
    expect(container.env.map((e: { name: string }) => e.name)).not.toContain('FLOWLOG_PORT');
    const plan: SyncPlan = JSON.parse(all.find((m) => m.kind === 'ConfigMap' && m.data?.['plan.json']).data['plan.json']);
    expect(plan.rules.every((r) => r.attribution === undefined)).toBe(true);
  });

  test('a NodePort Service on the node port the device sends to', () => {
    const { stack } = setup({ serviceType: FlowLogServiceType.NODE_PORT, nodePort: 31514 }, ['192.0.2.11:31514', '192.0.2.12:31514']);
    const service = manifests(stack).find((m) => m.kind === 'Service' && m.metadata.name.endsWith('-flowlog'));
    expect(service.spec.type).toBe('NodePort');
    expect(service.spec.ports.map((p: any) => [p.protocol, p.port, p.nodePort])).toEqual([
      ['TCP', 5514, 31514],
      ['UDP', 5514, 31514],
    ]);
  });

  test.each([
    [
      'the device sends elsewhere',
      {},
      ['192.0.2.50:514'],
      'flowLogs.port',
      '5514',
      'the receiver listens on port 5514, but device egress/Bigip sends its logs to 192.0.2.50:514: add the receiver',
    ],
    ['the device sends no syslog', {}, [], 'flowLogs.port', '5514', 'device egress/Bigip sends no syslog: set its logging.syslogServers'],
    [
      'NodePort without a node port',
      { serviceType: FlowLogServiceType.NODE_PORT },
      ['192.0.2.50:5514'],
      'flowLogs.nodePort',
      'nothing',
      'is required with FlowLogServiceType.NODE_PORT',
    ],
    [
      'a node port on a LoadBalancer',
      { nodePort: 31514 },
      ['192.0.2.50:5514'],
      'flowLogs.nodePort',
      '31514',
      'only applies with FlowLogServiceType.NODE_PORT',
    ],
    [
      'a node port out of range',
      { serviceType: FlowLogServiceType.NODE_PORT, nodePort: 8080 },
      ['192.0.2.50:8080'],
      'flowLogs.nodePort',
      '8080',
      '',
    ],
    ['a port of 0', { port: 0 }, ['192.0.2.50:5514'], 'flowLogs.port', '0', ''],
  ])('refused: %s', (_what, flowLogs, servers, field, value, message) => {
    const issues = issuesOf(() => setup(flowLogs as EgressControllerProps['flowLogs'], servers).controller);
    const issue = issues.find((i) => i.field === field);
    expect(issue).toMatchObject({ path: 'egress/Controller', value });
    expect(issue?.message).toContain(message);
  });
});

const plan: SyncPlan = {
  format: 'cdktf-ces.dev/sync-plan/v1',
  cluster: 'prod',
  tenant: 'k8s_demo_prod',
  application: 'egress',
  routeDomain: 0,
  lists: [],
  rules: [
    {
      key: 'namespace/payments/bank-sftp',
      kind: 'NamespaceEgressRule',
      name: 'bank-sftp',
      namespace: 'payments',
      sourceList: '/Common/Shared/k8s_demo_prod_src_ns_payments',
      specDigest: '0'.repeat(32),
      attribution: {
        path: 'egress/BankSftp',
        action: 'ALLOW',
        mode: 'enforced',
        owner: 'team-payments',
        afmRules: ['n_payments_bank-sftp_tcp'],
      },
    },
  ],
};

const pod = (name: string, ip: string, extra: Partial<PodInfo> = {}): PodInfo => ({
  namespace: 'payments',
  name,
  labels: { app: 'checkout' },
  ips: [ip],
  phase: 'Running',
  node: 'node-a',
  ...extra,
});

describe('controller flow-log intake', () => {
  test('a pod identity: Services selecting it; no address for finished or host-network pods', () => {
    const services: ServiceInfo[] = [
      { namespace: 'payments', name: 'checkout', selector: { app: 'checkout' } },
      { namespace: 'payments', name: 'other', selector: { app: 'other' } },
      { namespace: 'web', name: 'checkout', selector: { app: 'checkout' } },
    ];
    expect(podIdentity(pod('c-1', '10.244.1.5'), services)).toEqual({
      namespace: 'payments',
      name: 'c-1',
      ips: ['10.244.1.5'],
      node: 'node-a',
      services: ['checkout'],
    });
    expect(podIdentity(pod('c-1', '10.244.1.5', { phase: 'Succeeded' }), services).ips).toEqual([]);
    expect(podIdentity(pod('c-1', '10.244.1.5', { hostNetwork: true }), services).ips).toEqual([]);
    expect(podIdentity(pod('c-1', '10.244.1.5', { terminating: true }), services).ips).toEqual(['10.244.1.5']);
  });

  test('events over TCP: the pod that held the address at each event, the rule from the plan', async () => {
    let now = Date.parse('2026-03-02T09:00:00Z');
    const lines: string[] = [];
    const output = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trimEnd().split('\n'));
        done();
      },
    });
    const pods = new Map<string, PodInfo>();
    let services: ServiceInfo[] = [];
    const intake = new FlowLogIntake({
      plan,
      port: 0,
      registry: new Registry(),
      clock: { now: () => now, schedule: () => () => undefined, sleep: async () => undefined },
      podsInNamespace: (ns) => [...pods.values()].filter((p) => p.namespace === ns),
      servicesInNamespace: (ns) => services.filter((s) => s.namespace === ns),
      output,
    });
    const add = (p: PodInfo) => {
      pods.set(p.name, p);
      intake.podChanged(p);
    };
    add(pod('checkout-1', '10.244.1.5'));
    now += 60_000; // 09:01
    services = [{ namespace: 'payments', name: 'checkout', selector: { app: 'checkout' } }];
    intake.serviceChanged('payments');
    now += 60_000; // 09:02: checkout-1 goes, checkout-2 gets its address
    pods.delete('checkout-1');
    intake.podDeleted('payments', 'checkout-1');
    add(pod('checkout-2', '10.244.1.5', { node: 'node-b' }));
    const { tcpPort } = await intake.listen();
    try {
      const socket = net.connect(tcpPort as number, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const at = (time: string) =>
        `${fieldListLine({ time, src: '10.244.1.5', dst: '198.51.100.9', dstPort: '22', action: 'Accept', rule: 'n_payments_bank-sftp_tcp' })}\n`;
      socket.end(at('2026-03-02T09:00:30Z') + at('2026-03-02T09:01:30Z') + at('2026-03-02T09:02:30Z'));
      for (let i = 0; i < 200 && lines.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await intake.close();
    }
    const records = lines.map((l) => JSON.parse(l));
    expect(records.map((r) => [r.time, r.source.pod, r.source.node, r.source.services])).toEqual([
      ['2026-03-02T09:00:30.000Z', 'checkout-1', 'node-a', []],
      ['2026-03-02T09:01:30.000Z', 'checkout-1', 'node-a', ['checkout']],
      ['2026-03-02T09:02:30.000Z', 'checkout-2', 'node-b', ['checkout']],
    ]);
    expect(records[0].rule).toEqual({
      key: 'namespace/payments/bank-sftp',
      kind: 'NamespaceEgressRule',
      level: 'namespace',
      name: 'bank-sftp',
      namespace: 'payments',
      path: 'egress/BankSftp',
      action: 'ALLOW',
      mode: 'enforced',
      owner: 'team-payments',
    });
  });

  test("namespaces in route domains of their own: the same address in two tenants names the pod of the event's route domain", () => {
    const lines: string[] = [];
    const output = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trimEnd().split('\n'));
        done();
      },
    });
    const mapped: SyncPlan = {
      ...plan,
      namespaceRouteDomains: [
        { namespace: 'tenant-a', routeDomain: 11 },
        { namespace: 'tenant-b', routeDomain: 12 },
      ],
    };
    const intake = new FlowLogIntake({
      plan: mapped,
      port: 0,
      registry: new Registry(),
      clock: { now: () => Date.parse('2026-03-02T09:00:00Z'), schedule: () => () => undefined, sleep: async () => undefined },
      podsInNamespace: () => [],
      servicesInNamespace: () => [],
      output,
    });
    intake.podChanged(pod('app-a', '10.16.0.5', { namespace: 'tenant-a' }));
    intake.podChanged(pod('app-b', '10.16.0.5', { namespace: 'tenant-b' }));
    for (const rd of ['11', '12', '0'])
      intake.receiver.receive(fieldListLine({ time: '2026-03-02T09:01:00Z', src: '10.16.0.5', routeDomain: rd }));
    expect(lines.map((l) => JSON.parse(l)).map((r) => [r.afm.routeDomain, r.source.ip, r.source.namespace, r.source.pod])).toEqual([
      [11, '10.16.0.5', 'tenant-a', 'app-a'],
      [12, '10.16.0.5', 'tenant-b', 'app-b'],
      [0, '10.16.0.5', undefined, undefined],
    ]);
  });
});
