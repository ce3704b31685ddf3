import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, NamespaceEgressRule, ServiceEgressRule } from '../../lib';
import type { PolicyModel, RuleModel } from '../../lib/policy/model';
import { enrich, recordLine, RuleDirectory } from '../../lib/flowlog/enrich';
import { AddressHistory } from '../../lib/flowlog/history';
import { AfmLogParser } from '../../lib/flowlog/parse';
import { DEFAULT_LOG_FIELDS } from '../../lib/policy/log-fields';
import { synthInto } from '../cli/support';
import { deviceStack } from '../support/app';
import { testDevice } from '../support/device';

/** The renderer's default field list, as a device without `logging.fields` sends it. */
export const DEFAULT_FIELDS = DEFAULT_LOG_FIELDS;

export interface LineFields {
  time?: string;
  host?: string;
  dateTime?: string;
  action?: string;
  contextType?: string;
  contextName?: string;
  policy?: string;
  policyType?: string;
  rule?: string;
  src?: string;
  srcPort?: string;
  dst?: string;
  dstPort?: string;
  protocol?: string;
  routeDomain?: string;
}

/**
 * An RFC 5424 message whose MSG is a field list (the renderer's default unless `fields` says
 * otherwise), values in double quotes.
 */
export function fieldListLine(f: LineFields = {}, fields: readonly string[] = DEFAULT_FIELDS): string {
  const byField: Record<string, string> = {
    'date-time': f.dateTime ?? 'Mar  2 2026 09:30:00',
    action: f.action ?? 'Drop',
    'context-type': f.contextType ?? 'Virtual Server',
    'context-name': f.contextName ?? '/k8s_demo_prod/egress/egress_vs',
    'acl-policy-name': f.policy ?? '/Common/Shared/k8s_demo_prod_vs_policy',
    'acl-policy-type': f.policyType ?? 'Enforced',
    'acl-rule-name': f.rule ?? 'default',
    'src-ip': f.src ?? '10.244.1.5',
    'src-port': f.srcPort ?? '40000',
    'dest-ip': f.dst ?? '203.0.113.10',
    'dest-port': f.dstPort ?? '443',
    protocol: f.protocol ?? 'TCP',
    'route-domain': f.routeDomain ?? '0',
  };
  const values = fields.map((name) => byField[name] ?? '');
  return `<134>1 ${f.time ?? '2026-03-02T09:30:00.250Z'} ${f.host ?? 'bigip1.example.net'} tmm - 23003137 - ${values.map((v) => `"${v}"`).join(',')}`;
}

const rule = (r: Partial<RuleModel> & Pick<RuleModel, 'level' | 'name'>): RuleModel => ({
  path: `app/stack/${r.name}`,
  action: 'ALLOW',
  priority: 500,
  source: { level: r.level, ...(r.namespace ? { namespace: r.namespace } : {}) },
  destinations: [],
  ports: [],
  logging: true,
  audit: false,
  metadata: {},
  ...r,
});

/** A small policy: cluster DNS, a payments namespace rule, a service rule and an audit deny. */
export function demoModel(): PolicyModel {
  return {
    device: testDevice({ tenant: 'k8s_demo_prod', cluster: 'prod' }),
    externalServices: [],
    rules: [
      rule({
        level: 'cluster',
        name: 'allow-dns',
        action: 'ALLOW_FINAL',
        destinations: [{ kind: 'address', text: '10.96.0.10', family: 4 }],
        ports: [{ protocol: 'udp', fromPort: 53, toPort: 53 }],
        metadata: { owner: 'security', ticket: 'SEC-1' },
      }),
      rule({
        level: 'namespace',
        namespace: 'payments',
        name: 'bank-sftp',
        destinations: [{ kind: 'range', text: '198.51.100.10-198.51.100.20', family: 4 }],
        ports: [{ protocol: 'tcp', fromPort: 22, toPort: 22 }],
        metadata: { owner: 'team-payments', ticket: 'PAY-7' },
      }),
      rule({
        level: 'service',
        namespace: 'payments',
        name: 'checkout-to-stripe',
        source: { level: 'service', namespace: 'payments', service: 'checkout' },
        destinations: [{ kind: 'fqdn', text: 'api.stripe.com', wildcard: false }],
        ports: [{ protocol: 'tcp', fromPort: 443, toPort: 443 }],
      }),
      rule({
        level: 'cluster',
        name: 'no-smtp',
        action: 'REJECT',
        audit: true,
        destinations: [{ kind: 'cidr', text: '0.0.0.0/0', family: 4 }],
        ports: [{ protocol: 'tcp', fromPort: 25, toPort: 25 }],
        metadata: { owner: 'security', ticket: 'SEC-9' },
      }),
    ],
  };
}

/** The demo policy as a synthesized app, for the CLI commands (returns the working directory). */
export function synthDemo(): string {
  return synthInto((app) => {
    const { stack, device } = deviceStack({ clusterName: 'demo', podCidrs: ['10.244.0.0/16'] }, app);
    new ClusterEgressRule(stack, 'AllowDns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP],
      logging: true,
      owner: 'security',
      ticket: 'SEC-1',
    });
    new ClusterEgressRule(stack, 'NoSmtp', {
      device,
      action: EgressAction.REJECT,
      destinations: [EgressDestination.cidr('0.0.0.0/0')],
      ports: [EgressPort.tcp(25)],
      logging: true,
      audit: true,
      owner: 'security',
      ticket: 'SEC-9',
    });
    new NamespaceEgressRule(stack, 'BankSftp', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.range('198.51.100.10', '198.51.100.20')],
      ports: [EgressPort.SSH],
      logging: true,
      owner: 'team-payments',
      ticket: 'PAY-7',
    });
    new NamespaceEgressRule(stack, 'Backups', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('backup.objectstore.example')],
      ports: [EgressPort.HTTPS],
      logging: true,
      owner: 'team-payments',
      ticket: 'PAY-31',
    });
    new ServiceEgressRule(stack, 'CheckoutToStripe', {
      device,
      namespace: 'payments',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('api.stripe.com')],
      ports: [EgressPort.HTTPS],
      owner: 'team-payments',
    });
  });
}

/** Flow-log JSON lines as the receiver writes them for the demo: lines parsed and enriched. */
export function demoFlowLines(model: PolicyModel): string {
  const history = new AddressHistory();
  const t0 = Date.parse('2026-03-02T09:00:00Z');
  history.podUpdated(t0, { namespace: 'payments', name: 'checkout-7d9f', ips: ['10.244.3.17'], node: 'node-a', services: ['checkout'] });
  history.podUpdated(t0, { namespace: 'payments', name: 'settle-1', ips: ['10.244.3.20'], node: 'node-b' });
  history.podUpdated(t0, { namespace: 'web', name: 'frontend-1', ips: ['10.244.5.9'], node: 'node-a', services: ['frontend'] });
  const parser = new AfmLogParser();
  const rules = RuleDirectory.fromModel(model);
  const vs = '/k8s_demo/egress/egress_vs';
  const lines: string[] = [];
  const add = (n: number, minute: number, f: LineFields) => {
    for (let i = 0; i < n; i++) {
      const r = parser.parse(
        fieldListLine({
          time: `2026-03-02T09:${String(minute).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`,
          contextName: vs,
          ...f,
        }),
      );
      if (!r.ok) throw new Error(r.reason);
      lines.push(recordLine(enrich(r.event, history, rules)));
    }
  };
  add(5, 1, {
    src: '10.244.3.17',
    dst: '10.96.0.10',
    dstPort: '53',
    protocol: 'UDP',
    action: 'Accept Decisively',
    rule: 'c_allow-dns_udp',
    contextType: 'Global',
    policy: '/Common/Shared/k8s_demo_global_policy',
  });
  add(3, 2, {
    src: '10.244.3.20',
    dst: '198.51.100.12',
    dstPort: '22',
    action: 'Accept',
    rule: 'n_payments_bank-sftp_tcp',
    contextType: 'Route Domain',
    policy: '/Common/Shared/k8s_demo_rd0_policy',
  });
  add(4, 3, { src: '10.244.3.20', dst: '203.0.113.7', dstPort: '8443', action: 'Drop', rule: 'default' });
  add(2, 4, { src: '10.244.3.20', dst: '203.0.113.9', dstPort: '8443', action: 'Drop', rule: 'default' });
  add(1, 5, { src: '10.244.3.20', dst: '203.0.113.9', dstPort: '8444', action: 'Drop', rule: 'default' });
  add(2, 6, {
    src: '10.244.3.17',
    dst: '192.0.2.25',
    dstPort: '25',
    action: 'Reject',
    rule: 'c_no-smtp_tcp',
    contextType: 'Global',
    policy: '/Common/Shared/k8s_demo_global_policy_staged',
    policyType: 'Staged',
  });
  add(2, 6, { src: '10.244.3.17', dst: '192.0.2.25', dstPort: '25', action: 'Drop', rule: 'default' });
  add(1, 7, { src: '10.244.5.9', dst: '198.51.100.80', dstPort: '443', action: 'Drop', rule: 'default' });
  add(1, 8, { src: '10.244.9.9', dst: '203.0.113.7', dstPort: '443', action: 'Drop', rule: 'default' });
  add(1, 59, { src: '10.244.3.20', dst: '203.0.113.7', dstPort: '8443', action: 'Drop', rule: 'default' });
  return lines.join('');
}
