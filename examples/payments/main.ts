/**
 * Example (b), payments: only the pods behind Service `checkout` in namespace `payments` may
 * reach api.stripe.com:443; the pods behind Service `comments` may reach nothing outside the
 * cluster, whatever the namespace allows.
 *
 * It also shows the firewall capabilities: remote syslog, a route domain, a SNAT pool, IP
 * Intelligence and protocol inspection on the egress virtual server, a bandwidth-limited
 * backup rule, a vendor-support exception inside a weekly window that expires, and a new
 * deny rolled out in audit mode first.
 */
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  BandwidthUnit,
  EgressSnat,
  ExternalService,
  NamespaceEgressRule,
  ServiceEgressRule,
  SyslogTransport,
  Weekday,
} from '../../lib';

export class PaymentsStack extends TerraformStack {
  public readonly device: AfmDevice;

  constructor(scope: Construct, id: string, crdStack: EgressCrdStack) {
    super(scope, id);
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    new KubernetesProvider(this, 'kubernetes', {});

    this.device = new AfmDevice(this, 'Bigip', {
      clusterName: 'payments-prod',
      address: '192.0.2.10',
      credentials: BigipCredentials.fromVariables(),
      tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
      crdStack,
      podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      dnsResolver: '/Common/egress-resolver',
      routeDomain: 2,
      // Dual-stack pods need a translation address of each family.
      snat: EgressSnat.pool(['192.0.2.200', '192.0.2.201', '2001:db8:200::1']),
      ipIntelligencePolicy: '/Common/egress-ip-intelligence',
      protocolInspectionProfile: '/Common/egress-protocol-inspection',
      logging: { syslogServers: ['192.0.2.50:514', '192.0.2.51:514'], syslogTransport: SyslogTransport.TCP, localDatabase: true },
    });

    new ClusterEgressRule(this, 'AllowDns', {
      device: this.device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP, EgressPort.DNS_TCP],
      owner: 'security',
      ticket: 'SEC-1',
    });

    const stripe = new ExternalService(this, 'Stripe', {
      device: this.device,
      destinations: [EgressDestination.fqdn('api.stripe.com')],
      description: 'Stripe payments API',
    });

    // The namespace may reach the bank's SFTP endpoints (ALLOW: lower levels may still deny).
    new NamespaceEgressRule(this, 'BankSftp', {
      device: this.device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('sftp.bank.example'), EgressDestination.range('198.51.100.10', '198.51.100.20')],
      ports: [EgressPort.SSH],
      owner: 'team-payments',
      ticket: 'PAY-7',
      justification: 'daily settlement files',
    });

    new ServiceEgressRule(this, 'CheckoutToStripe', {
      device: this.device,
      namespace: 'payments',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.externalService(stripe)],
      ports: [EgressPort.HTTPS],
      logging: true,
      owner: 'team-payments',
      ticket: 'PAY-12',
    });

    // Nightly backups to the object store, capped so they cannot starve checkout traffic.
    new NamespaceEgressRule(this, 'Backups', {
      device: this.device,
      namespace: 'payments',
      podSelector: { matchLabels: { app: 'backup' } },
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('backup.objectstore.example')],
      ports: [EgressPort.HTTPS],
      bandwidthLimit: { maxBandwidth: 200, unit: BandwidthUnit.MBPS },
      owner: 'team-payments',
      ticket: 'PAY-31',
    });

    // The payment terminal vendor may reach its support host during office hours until the
    // contract ends; outside the window (and after expiry) the rule matches nothing.
    new NamespaceEgressRule(this, 'VendorSupport', {
      device: this.device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.fqdn('support.terminal-vendor.example')],
      ports: [EgressPort.SSH],
      schedule: {
        daysOfWeek: [Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY],
        startTime: '09:00',
        endTime: '17:00',
        timeZone: 'Europe/Berlin',
      },
      expiresAt: '2099-12-31T00:00:00Z',
      owner: 'team-payments',
      ticket: 'PAY-40',
      justification: 'vendor remote support',
    });

    // A new guardrail, staged first: the logs show what it would block before it is enforced.
    new ClusterEgressRule(this, 'NoSmtp', {
      device: this.device,
      action: EgressAction.REJECT,
      priority: 50,
      destinations: [EgressDestination.anyIpv4(), EgressDestination.anyIpv6()],
      ports: [EgressPort.SMTP, EgressPort.SMTP_SUBMISSION],
      audit: true,
      logging: true,
      owner: 'security',
      ticket: 'SEC-9',
    });

    // Service rules are evaluated last: this DENY overrides the namespace's SFTP allowance for
    // the comments pods, and nothing else at the service level allows them anything.
    new ServiceEgressRule(this, 'CommentsNoEgress', {
      device: this.device,
      namespace: 'payments',
      service: 'comments',
      action: EgressAction.DENY,
      destinations: [EgressDestination.anyIpv4(), EgressDestination.anyIpv6()],
      logging: true,
      description: 'comments renders user content: no egress',
      owner: 'team-payments',
    });
  }
}

export function buildPayments(app: App): PaymentsStack {
  const crds = new EgressCrdStack(app, 'egress-crds');
  new LocalBackend(crds, { path: 'terraform.egress-crds.tfstate' });
  return new PaymentsStack(app, 'payments', crds);
}

if (require.main === module) {
  const app = new App();
  buildPayments(app);
  app.synth();
}
