/**
 * Two clusters on one BIG-IP with the same pod CIDR, in route domains 2 and 3: the same pod
 * address means a different pod in each, and each cluster's rules apply only to its own.
 */
import { contextCommands, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { desiredMembers } from '../../lib/policy/membership';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import type { PolicyModel } from '../../lib/policy/model';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { EgressPort as P } from '../../lib/policy/port';
import { buildRule } from '../../lib/policy/schema';
import { testDevice } from '../support/device';

const POD_CIDR = { kind: 'cidr' as const, text: '10.244.0.0/16', family: 4 as const };
const at = new Date('2026-11-23T10:00:00Z');

function cluster(name: string, routeDomain: number, allowPayments: boolean): PolicyModel {
  return {
    device: testDevice({ cluster: name, tenant: `k8s_${name}`, routeDomain, podCidrs: [POD_CIDR] }),
    externalServices: [],
    // A cluster rule sits in the global context, which sees both route domains: only the
    // route-domain suffix of its source list keeps it to its own cluster's pods.
    rules: allowPayments
      ? [
          buildRule({
            level: 'cluster',
            path: `${name}/c`,
            name: 'bank',
            action: 'ALLOW_FINAL',
            destinations: [D.cidr('198.51.100.0/24')],
            ports: [P.HTTPS],
          }),
          buildRule({
            level: 'namespace',
            path: `${name}/r`,
            name: 'bank',
            namespace: 'payments',
            action: 'ALLOW',
            destinations: [D.cidr('198.51.100.0/24')],
            ports: [P.HTTPS],
          }),
        ]
      : [
          buildRule({
            level: 'namespace',
            path: `${name}/r`,
            name: 'nothing',
            namespace: 'payments',
            action: 'DENY',
            destinations: [D.cidr('203.0.113.0/24')],
          }),
        ],
  };
}

test('the same pod address in two route domains is two pods, each under its own cluster\u2019s rules', () => {
  const east = compilePolicy(cluster('east', 2, true));
  const west = compilePolicy(cluster('west', 3, false));
  const as3 = [renderSharedAs3('dc1', [east, west]), renderTenantAs3(east), renderTenantAs3(west)].map((d) =>
    JSON.parse(JSON.stringify(d)),
  );
  const firewall = AfmFirewall.load(as3, contextCommands('dc1', [east, west]).apply);

  // Both clusters run a payments pod at 10.244.1.5; the controller suffixes each list's members with its route domain.
  const snapshot = {
    pods: [{ namespace: 'payments', name: 'p', labels: {}, ips: ['10.244.1.5'], phase: 'Running' }],
    namespaces: [{ name: 'payments', labels: {} }],
    services: [],
  };
  const members = new Map<string, string[]>();
  for (const [compiled, rd] of [
    [east, 2],
    [west, 3],
  ] as const) {
    for (const [path, ips] of desiredMembers(buildSyncPlan(compiled), snapshot, at))
      members.set(
        path,
        ips.map((ip) => `${ip}%${rd}`),
      );
  }
  const state = firewall.listState(members);
  const flow = (routeDomain: number) =>
    firewall.evaluate({ sourceIp: '10.244.1.5', routeDomain, destinationIp: '198.51.100.7', protocol: 'tcp', port: 443 }, state);

  expect(flow(2).verdict).toBe('allow');
  expect(flow(2).enforced.decidedBy).toMatchObject({ context: 'global', rule: 'c_bank_tcp' });
  expect(flow(3).verdict).toBe('deny');
  expect(flow(3).enforced.decidedBy?.rule).toBe('default');
  // The east cluster's policy is enforced on route domain 2 only.
  const shared = (as3[0] as any).declaration.Common.Shared;
  expect(shared.dc1_rd2_policy).toMatchObject({
    rules: [{ use: 'k8s_east_namespace_rules' }],
    routeDomainEnforcement: [{ bigip: '/Common/2' }],
  });
  expect(shared.dc1_rd3_policy).toMatchObject({
    rules: [{ use: 'k8s_west_namespace_rules' }],
    routeDomainEnforcement: [{ bigip: '/Common/3' }],
  });
});
