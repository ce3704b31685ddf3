import { App, TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, AfmDeviceProps, EgressCrdStack } from '../../lib';

/** An app with a CRD stack and a rule stack holding one AfmDevice. */
export function deviceStack(props: Partial<AfmDeviceProps> = {}, app: App = Testing.app()) {
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'prod',
    address: 'bigip.example.net',
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack: crds,
    dnsResolver: '/Common/egress-resolver',
    ...props,
  });
  return { app, crds, stack, device };
}

/** The synthesized JSON of a stack, parsed. */
export function synthJson(stack: TerraformStack): any {
  return JSON.parse(Testing.synth(stack));
}

export function as3Of(stack: TerraformStack): any {
  const as3 = Object.values(synthJson(stack).resource.bigip_as3 as Record<string, { as3_json: string }>);
  return JSON.parse(as3[0].as3_json);
}
