/**
 * One synth measurement in a fresh process (so peak RSS is this run's alone):
 *   node synth-worker.js <library|bare|bare-as3> <rules> <namespaces> <outdir> [declaration.json]
 * Prints one JSON line: { mode, rules, namespaces, constructMs, synthMs, totalMs, cpuMs, peakRssMb }
 * (cpuMs: user and system CPU time of construct and synth, which a busy machine disturbs less
 * than the wall-clock times).
 */
import { performance } from 'node:perf_hooks';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import * as fs from 'node:fs';
import { BigipAs3 } from '../../providers/bigip/as3';
import { BigipProvider } from '../../providers/bigip/provider';
import { benchRule, buildBenchPolicy } from './bench-policy';

const [mode, rulesArg, namespacesArg, outdir, declarationFile] = process.argv.slice(2);
const rules = Number(rulesArg);
const namespaces = Number(namespacesArg);

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const app = new App({ outdir });
if (mode === 'library') {
  buildBenchPolicy(app, rules, namespaces);
} else {
  // Bare cdktf: the same number of kubernetes_manifest resources with the same CR content,
  // written as plain object literals (no validation, no policy compilation). `bare-as3` also
  // deploys the library's AS3 declaration for the same rules, as one object literal (read
  // from a file, parsed in the timed part as a program would build it), in a bigip_as3
  // resource: the same Terraform JSON, less the library's tmsh commands and policy artifact.
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  if (mode === 'bare-as3') {
    const declaration: unknown = JSON.parse(fs.readFileSync(declarationFile, 'utf8'));
    const provider = new BigipProvider(stack, 'bigip', { address: '192.0.2.1', username: 'admin', password: 'secret' });
    new BigipAs3(stack, 'Declaration', { provider, as3Json: JSON.stringify(declaration), ignoreMetadata: true });
  }
  for (let i = 0; i < rules; i++) {
    const p = benchRule(i, namespaces);
    const port = i % 3 === 0 ? { protocol: 'tcp', port: 443 } : { protocol: 'tcp', port: 8000, endPort: 8000 + (i % 100) };
    new Manifest(stack, `R${i}`, {
      manifest: {
        apiVersion: 'egress.cdktf-ces.io/v1alpha1',
        kind: p.service ? 'ServiceEgressRule' : 'NamespaceEgressRule',
        metadata: {
          name: p.name,
          namespace: p.namespace,
          labels: { 'app.kubernetes.io/managed-by': 'cdktf-ces', 'egress.cdktf-ces.io/cluster': 'bench' },
          annotations: { 'egress.cdktf-ces.io/construct-path': `egress/R${i}` },
        },
        spec: {
          action: 'Allow',
          priority: p.priority,
          destinations: [{ fqdn: `api-${i % 50}.partner.example` }, { cidr: `10.${(i >> 8) & 255}.${i & 255}.0/24` }],
          ports: [port.endPort === 8000 ? { protocol: 'tcp', port: 8000 } : port],
          ...(p.service ? { service: p.service } : {}),
        },
      },
    });
  }
}
const t1 = performance.now();
app.synth();
const t2 = performance.now();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    mode,
    rules,
    namespaces,
    constructMs: Math.round(t1 - t0),
    synthMs: Math.round(t2 - t1),
    totalMs: Math.round(t2 - t0),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
