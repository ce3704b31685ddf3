/**
 * Library-only hot paths of synth at 10,000 rules, in-process, each timed over several runs
 * (median CPU time): what synth spends in this library's own code, apart from cdktf. A development aid
 * for profiling (`npx tsx test/bench/hot-paths.ts`), not part of `npm run bench`.
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
import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';

const rules = Number(process.argv[2] ?? 10000);
const namespaces = Number(process.argv[3] ?? 1000);
const repeats = Number(process.argv[4] ?? 5);

function build(): AfmDevice {
  const app = new App({ outdir: '/nonexistent' });
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
    const destinations = [
      EgressDestination.fqdn(`api-${i % 50}.partner.example`),
      EgressDestination.cidr(`10.${(i >> 8) & 255}.${i & 255}.0/24`),
    ];
    const ports = [i % 3 === 0 ? EgressPort.HTTPS : EgressPort.tcpRange(8000, 8000 + (i % 100))];
    const common = {
      device,
      name: `rule-${i}`,
      namespace: `team-${i % namespaces}`,
      action: EgressAction.ALLOW,
      priority: i % 1000,
      destinations,
      ports,
    };
    if (i % 5 === 4) new ServiceEgressRule(stack, `R${i}`, { ...common, service: `svc-${i % 7}` });
    else new NamespaceEgressRule(stack, `R${i}`, common);
  }
  return device;
}

const times: Record<string, number[]> = {};
// CPU time, not wall time: the figures compare on a shared machine.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const time = <T>(label: string, f: () => T): T => {
  const t = cpuMs();
  const r = f();
  (times[label] ??= []).push(cpuMs() - t);
  return r;
};
const device = time('construct (rules with their CRs)', build);
const model = device._policyModel();
for (let k = 0; k < repeats; k++) {
  const compiled = time('compilePolicy', () => compilePolicy(model));
  const as3 = time('renderAs3 (with self-check)', () => renderAs3(compiled));
  const json = time('JSON.stringify(as3)', () => JSON.stringify(as3));
  time('artifact (plan, digest, JSON)', () => JSON.stringify({ model: compiled.model, plan: buildSyncPlan(compiled), n: json.length }));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [label, xs] of Object.entries(times))
  process.stdout.write(`${label.padEnd(36)} ${median(xs).toFixed(0).padStart(6)} ms  (${xs.map((x) => x.toFixed(0)).join(' ')})\n`);
