/**
 * Per-rule source translation: the payments namespace reaches a partner's SFTP gateway from its
 * own translation addresses, which the partner puts on its allowlist; every other allowed flow
 * leaves with the device's snat.
 *
 * The device must translate to a pool or to nothing (`snat: EgressSnat.pool([...])` or
 * `EgressSnat.none()`): a NAT policy's last rule cannot translate to automap.
 */
import { Construct } from 'constructs';
import { AfmDevice, EgressAction, EgressDestination, EgressPort, EgressSnat, NamespaceEgressRule } from '../../lib';

/** The partner's allowlisted source addresses for the payments namespace. */
export const PAYMENTS_PARTNER_ADDRESSES = ['192.0.2.220', '192.0.2.221'];

export function addSnat(scope: Construct, device: AfmDevice): NamespaceEgressRule {
  return new NamespaceEgressRule(scope, 'PaymentsToPartner', {
    device,
    namespace: 'payments',
    action: EgressAction.ALLOW,
    priority: 100,
    description: 'settlement files to the partner bank',
    destinations: [EgressDestination.cidr('203.0.113.0/28')],
    ports: [EgressPort.tcp(22)],
    snat: EgressSnat.pool(PAYMENTS_PARTNER_ADDRESSES),
    // NAT events (with the translated address and port) go to the device's log publisher.
    logging: true,
  });
}
