/**
 * A device that is a BIG-IP pair: two units in the sync-failover device group
 * `/Common/failover-group` with auto-sync (and save-on-auto-sync) on. `address` is the config
 * leader; the deploy sends the declaration there, then the same declaration to the peer (its
 * service-discovery tasks are its own), and the controller writes the source lists to whichever
 * unit is active. See docs/ha.md.
 *
 * Before the first deploy the group must exist (Declarative Onboarding, or
 * `bigip_cm_devicegroup` with `auto_sync = "enabled"`), and AS3 must be installed on both units.
 */
import { Construct } from 'constructs';
import {
  AfmDevice,
  AfmDeviceProps,
  BigipCredentials,
  ConfigSyncMode,
  EgressAction,
  EgressController,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
} from '../../lib';

/** The pair's device, one rule on it, and its controller (which learns of the peer from the device). */
export function addHaPairDevice(scope: Construct, crdStack: EgressCrdStack, props: Partial<AfmDeviceProps> = {}): AfmDevice {
  const device = new AfmDevice(scope, 'BigipPair', {
    clusterName: 'edge-prod',
    address: 'bigip-a.example.net',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack,
    podCidrs: ['10.64.0.0/14'],
    highAvailability: {
      deviceGroup: '/Common/failover-group',
      peerAddresses: ['bigip-b.example.net'],
      configSync: ConfigSyncMode.AUTO,
    },
    ...props,
  });
  new NamespaceEgressRule(scope, 'CheckoutToPsp', {
    device,
    namespace: 'checkout',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    ports: [EgressPort.HTTPS],
  });
  new EgressController(scope, 'PairController', {
    device,
    credentialsSecret: 'bigip-credentials/bigip-egress-login',
    caBundleConfigMap: 'bigip-credentials/bigip-mgmt-ca',
  });
  return device;
}
