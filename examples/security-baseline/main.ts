/**
 * Example (a), security baseline: every pod may resolve names and keep time; an emergency
 * DENY of a command-and-control range overrides every team's rules.
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
  EgressController,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
} from '../../lib';

export interface SecurityBaselineProps {
  readonly crdStack: EgressCrdStack;
}

export class SecurityBaselineStack extends TerraformStack {
  public readonly device: AfmDevice;
  public readonly controller: EgressController;

  constructor(scope: Construct, id: string, props: SecurityBaselineProps) {
    super(scope, id);
    new LocalBackend(this, { path: `terraform.${id}.tfstate` });
    new KubernetesProvider(this, 'kubernetes', {});

    this.device = new AfmDevice(this, 'Bigip', {
      clusterName: 'prod-east',
      address: 'bigip-mgmt.example.net',
      credentials: BigipCredentials.fromEnvironment(),
      tlsCaBundlePath: '/etc/ssl/certs/bigip-mgmt-ca.pem',
      crdStack: props.crdStack,
      podCidrs: ['10.244.0.0/16'],
      vlans: ['/Common/k8s-egress'],
      gateways: ['192.0.2.1'],
      dnsResolver: '/Common/egress-resolver',
      // AFM events go to the controller's flow-log receiver: 192.0.2.50 stands for the address
      // the cluster's load balancer gives its Service (see flowLogs below).
      logging: { syslogServers: ['192.0.2.50:5514'] },
    });

    // Emergency deny: priority 0 at the cluster level (AFM global context) is evaluated
    // before anything else, so no namespace or service rule can re-open the range.
    new ClusterEgressRule(this, 'BlockC2', {
      device: this.device,
      action: EgressAction.DENY,
      priority: 0,
      destinations: [EgressDestination.cidr('203.0.113.0/24'), EgressDestination.cidr('2001:db8:bad::/48')],
      logging: true,
      description: 'known C2 ranges',
    });

    // DNS and NTP for every pod, decided at the cluster level (no lower level is consulted).
    new ClusterEgressRule(this, 'AllowDns', {
      device: this.device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.cidr('10.96.0.10/32'), EgressDestination.address('192.0.2.53')],
      ports: [EgressPort.DNS_UDP, EgressPort.DNS_TCP],
      description: 'cluster and corporate DNS',
    });
    new ClusterEgressRule(this, 'AllowNtp', {
      device: this.device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.fqdn('time.example.net'), EgressDestination.cidr('192.0.2.123/32')],
      ports: [EgressPort.NTP],
      description: 'corporate NTP',
    });

    // The in-cluster controller that keeps the pod-address lists current. The BIG-IP login
    // is read from an existing Secret; nothing secret is in the synthesized configuration.
    this.controller = new EgressController(this, 'Controller', {
      device: this.device,
      credentialsSecret: 'bigip-credentials/bigip-egress-login',
      caBundleConfigMap: 'bigip-credentials/bigip-mgmt-ca',
      // The controller pods also receive the device's AFM events (TCP and UDP 5514 behind a
      // LoadBalancer Service) and write them as JSON lines with pod, namespace and rule names.
      flowLogs: {},
    });

    // A team rule: the C2 deny above still wins for 203.0.113.0/24.
    new NamespaceEgressRule(this, 'PaymentsWeb', {
      device: this.device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.anyIpv4()],
      ports: [EgressPort.HTTPS],
      logging: true,
      description: 'payments may browse HTTPS',
    });
  }
}

export function buildSecurityBaseline(app: App): SecurityBaselineStack {
  const crdStack = new EgressCrdStack(app, 'egress-crds');
  new LocalBackend(crdStack, { path: 'terraform.egress-crds.tfstate' });
  return new SecurityBaselineStack(app, 'security-baseline', { crdStack });
}

if (require.main === module) {
  const app = new App();
  buildSecurityBaseline(app);
  app.synth();
}
