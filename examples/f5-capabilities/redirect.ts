/**
 * Redirection: traffic that a rule allows goes to other next hops than the device's gateways.
 *
 * - The web pods of namespace `shop` reach the internet over HTTP and HTTPS only through the
 *   company's inspection proxy pool.
 * - Every pod may reach the partner network 198.51.100.0/24, through the partner's dedicated
 *   gateway.
 *
 * Everything else the policy allows leaves through the device's gateways as before. The
 * redirected flows are still decided by the whole policy: a cluster DENY above these rules
 * still drops them.
 */
import { Construct } from 'constructs';
import { AfmDevice, ClusterEgressRule, EgressAction, EgressDestination, EgressPort, EgressRedirect, NamespaceEgressRule } from '../../lib';

/** The rules of the example, on `device`; returns them for inspection. */
export function addRedirect(
  scope: Construct,
  device: AfmDevice,
): { readonly inspectedWeb: NamespaceEgressRule; readonly partner: ClusterEgressRule } {
  const inspectionProxies = EgressRedirect.viaGateways('inspection-proxies', ['192.0.2.21', '192.0.2.22']);
  const partnerGateway = EgressRedirect.viaGateways('partner-gw', ['192.0.2.30']);

  const inspectedWeb = new NamespaceEgressRule(scope, 'ShopWebThroughProxy', {
    device,
    namespace: 'shop',
    podSelector: { matchLabels: { app: 'web' } },
    action: EgressAction.ALLOW,
    priority: 400,
    // Every IPv4 address, as two halves: a redirect never lists the whole address space in one
    // entry (its listener would rank with the egress virtual server, see docs/redirection.md).
    destinations: [EgressDestination.cidr('0.0.0.0/1'), EgressDestination.cidr('128.0.0.0/1')],
    ports: [EgressPort.HTTP, EgressPort.HTTPS],
    redirect: inspectionProxies,
    description: 'web pods browse through the inspection proxies',
  });

  const partner = new ClusterEgressRule(scope, 'PartnerNetwork', {
    device,
    action: EgressAction.ALLOW,
    priority: 300,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    // Not 80 or 443: the web pods' HTTP(S) to the whole internet, partner network included, is
    // redirected to the proxies, and synth refuses two redirects that can claim one flow.
    ports: [EgressPort.SSH, EgressPort.tcp(8443)],
    redirect: partnerGateway,
    description: 'partner network through its dedicated gateway',
  });
  return { inspectedWeb, partner };
}
