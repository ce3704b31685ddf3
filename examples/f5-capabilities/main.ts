/**
 * Example (d), the F5 capabilities beyond allow and deny:
 * - a device that is a BIG-IP pair (ha.ts): the declaration on both units, the lists on the
 *   active one;
 * - on it, a rule whose matches run iRule code (irule.ts), rules whose traffic goes through an
 *   inspection proxy pool or a partner gateway (redirect.ts), and a namespace that leaves with
 *   its own translation addresses (snat.ts);
 * - a second device whose tenant namespaces have route domains of their own, with overlapping
 *   pod addresses (route-domains.ts). Redirection and per-rule translation live in route domain
 *   0 only, so tenants in route domains are a device of their own.
 */
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { EgressCrdStack, EgressSnat } from '../../lib';
import { addHaPairDevice } from './ha';
import { addIRule } from './irule';
import { addRedirect } from './redirect';
import { buildRouteDomainsExample } from './route-domains';
import { addSnat } from './snat';

export function buildF5Capabilities(app: App): void {
  const crdStack = new EgressCrdStack(app, 'edge-crds');
  new LocalBackend(crdStack, { path: 'terraform.edge-crds.tfstate' });
  const stack = new TerraformStack(app, 'edge-egress');
  new LocalBackend(stack, { path: 'terraform.edge-egress.tfstate' });
  new KubernetesProvider(stack, 'kubernetes', {});
  // The device translates to a pool (a NAT policy's last rule cannot use automap), has gateways
  // for what is not redirected, and a resolver for the FQDN destinations.
  const device = addHaPairDevice(stack, crdStack, {
    gateways: ['192.0.2.1'],
    snat: EgressSnat.pool(['192.0.2.200']),
    dnsResolver: '/Common/egress-resolver',
  });
  addIRule(stack, device);
  addRedirect(stack, device);
  addSnat(stack, device);
  buildRouteDomainsExample(app);
}

if (require.main === module) {
  const app = new App();
  buildF5Capabilities(app);
  app.synth();
}
