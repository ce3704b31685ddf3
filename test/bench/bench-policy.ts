/**
 * The synth benchmark's workload as constructs (synth-worker.ts times the same shape in a
 * fresh process): one device, `rules` rules over `namespaces` namespaces, 4 of 5 namespace
 * rules and 1 of 5 service rules.
 */
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../lib';

/** The i-th rule of the workload: 4 of 5 are namespace rules, 1 of 5 a rule of `service`. */
export function benchRule(i: number, namespaces: number) {
  const namespace = `team-${i % namespaces}`;
  const destinations = [
    EgressDestination.fqdn(`api-${i % 50}.partner.example`),
    EgressDestination.cidr(`10.${(i >> 8) & 255}.${i & 255}.0/24`),
  ];
  const ports = [i % 3 === 0 ? EgressPort.HTTPS : EgressPort.tcpRange(8000, 8000 + (i % 100))];
  return { service: i % 5 === 4 ? `svc-${i % 7}` : undefined, namespace, name: `rule-${i}`, destinations, ports, priority: i % 1000 };
}

export function buildBenchPolicy(app: App, rules: number, namespaces: number): AfmDevice {
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'bench',
    address: '192.0.2.1',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/ca.pem',
    crdStack: crds,
    dnsResolver: '/Common/egress-resolver',
  });
  for (let i = 0; i < rules; i++) {
    const p = benchRule(i, namespaces);
    const common = {
      device,
      name: p.name,
      namespace: p.namespace,
      action: EgressAction.ALLOW,
      priority: p.priority,
      destinations: p.destinations,
      ports: p.ports,
    };
    if (p.service) new ServiceEgressRule(stack, `R${i}`, { ...common, service: p.service });
    else new NamespaceEgressRule(stack, `R${i}`, common);
  }
  return device;
}
