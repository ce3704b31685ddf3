/**
 * `npm run demo`: the whole loop on this machine, with no cluster, BIG-IP or Docker.
 *
 * 1. synthesize example (a), the security baseline;
 * 2. deploy it to an emulated Kubernetes API server and an emulated BIG-IP (CRDs first);
 * 3. run the controller the cluster would run (its code and plan come from the ConfigMaps
 *    the EgressController synthesized);
 * 4. run `cdktf-ces verify` against the emulated BIG-IP (with the cluster's pods) and stop
 *    when it finds an error: a green deploy alone proves nothing;
 * 5. create, scale and delete pods, and print the BIG-IP's source lists and the verdicts of a
 *    few flows, decided by the AFM evaluator over what the emulated BIG-IP holds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { verifyCommandWith } from '../../lib/cli/commands/verify';
import { parseCommandArgs } from '../../lib/cli/registry';
import { startEmulators, deploySynthOutput, controllerContainerRunner, Emulators } from '../../test/emulators/deploy';
import { WorkloadEmulator } from '../../test/emulators/kube/workloads';
import { packageRoot } from '../../lib/util';
import { buildSecurityBaseline } from '../security-baseline/main';

const SCHEMA = path.resolve(packageRoot(), '../shared/conformance/as3/as3-schema-3.56.0-10.json');
const started = Date.now();
const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => say(`\n[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

function pod(namespace: string, name: string, ip: string, labels: Record<string, string>) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name, labels },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sourceLists(emulators: Emulators): Map<string, string[]> {
  const lists = new Map<string, string[]>();
  for (const taskId of emulators.bigip.eventListTaskIds().sort())
    lists.set(taskId.replace(/~/g, '/'), emulators.bigip.listMembers(taskId) ?? []);
  return lists;
}

function printLists(emulators: Emulators): void {
  for (const [list, members] of sourceLists(emulators))
    say(`  ${list.padEnd(52)} ${members.length ? members.join(', ') : '(empty: matches nothing)'}`);
}

function printVerdicts(emulators: Emulators, flows: { label: string; from: string; to: string; protocol: string; port: number }[]): void {
  const global = emulators.bigip.globalRules();
  const commands = [
    ...(global.enforcedPolicy ? [`modify security firewall global-rules enforced-policy ${global.enforcedPolicy}`] : []),
    ...(global.stagedPolicy ? [`modify security firewall global-rules staged-policy ${global.stagedPolicy}`] : []),
  ];
  const firewall = AfmFirewall.load(emulators.bigip.declaration(), commands);
  const state = firewall.listState(sourceLists(emulators));
  for (const f of flows) {
    const result = firewall.evaluate({ sourceIp: f.from, routeDomain: 0, destinationIp: f.to, protocol: f.protocol, port: f.port }, state);
    const hit = result.enforced.decidedBy;
    const by = hit ? `${hit.context} context, rule ${hit.rule}` : result.enforced.ending.replace(/-/g, ' ');
    say(
      `  ${f.label.padEnd(44)} ${f.from.padEnd(12)} → ${`${f.to}:${f.port}/${f.protocol}`.padEnd(22)} ${result.verdict.toUpperCase().padEnd(6)} (${by})`,
    );
  }
}

/**
 * `cdktf-ces verify --out <outdir> --kubeconfig <the emulated cluster>` against the emulated
 * BIG-IP, printed; an error fails the demo.
 */
async function verify(outdir: string, emulators: Emulators): Promise<void> {
  const command = verifyCommandWith({ env: { BIGIP_USER: 'admin', BIGIP_PASSWORD: 'admin', BIGIP_CA_FILE: emulators.caFile } });
  const argv = ['--out', path.basename(outdir), '--bigip-url', emulators.bigip.url, '--kubeconfig', emulators.kubeconfigFile];
  say(`  $ cdktf-ces verify --out ${path.basename(outdir)} --bigip-url ${emulators.bigip.url} --kubeconfig <emulated cluster>`);
  let report = '';
  const code = await command.run(parseCommandArgs(command, argv), {
    stdout: (t) => (report += t),
    stderr: (t) => (report += t),
    cwd: path.dirname(outdir),
  });
  for (const line of report.trimEnd().split('\n')) say(`  ${line}`);
  if (code !== 0) throw new Error(`cdktf-ces verify exited with ${code}: the BIG-IP does not hold what was deployed`);
}

async function main(): Promise<void> {
  step('Synthesizing example (a), the security baseline');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-demo-'));
  const app = new App({ outdir });
  buildSecurityBaseline(app);
  app.synth();
  say(`  wrote ${outdir}: stacks ${fs.readdirSync(path.join(outdir, 'stacks')).join(', ')}`);

  step('Starting the emulated Kubernetes API server and BIG-IP (loopback only)');
  const emulators = await startEmulators({
    bigip: {
      as3SchemaPath: fs.existsSync(SCHEMA) ? SCHEMA : undefined,
      dnsResolvers: ['/Common/egress-resolver'],
      existingObjects: ['/Common/k8s-egress'],
      users: { admin: 'admin', 'egress-sync': 'demo-password' },
    },
  });
  // The cluster's deployment controller and kubelets: they run the controller's pods from the
  // synthesized Deployment (init container unpacking the bundle, then the controller).
  const workloads = new WorkloadEmulator(emulators.kube, {
    runner: controllerContainerRunner(emulators, { env: { COALESCE_MS: '100' }, stdio: process.env.DEMO_DEBUG ? 'inherit' : 'ignore' }),
  }).start();
  try {
    say(
      `  kube-apiserver ${emulators.kube.url}   BIG-IP ${emulators.bigip.url}${fs.existsSync(SCHEMA) ? "   (AS3 declarations validated against F5's schema)" : ''}`,
    );
    // What exists beforehand (the README's first deploy): the teams' namespaces, and the BIG-IP
    // login Secret and CA ConfigMap in a namespace of their own. The deploy creates the
    // controller's namespace (createNamespace) and waits for its rollout.
    for (const name of ['payments', 'web', 'bigip-credentials'])
      emulators.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
    emulators.kube.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: 'bigip-credentials', name: 'bigip-egress-login' },
      stringData: { username: 'egress-sync', password: 'demo-password' },
    });
    emulators.kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: 'bigip-credentials', name: 'bigip-mgmt-ca' },
      data: { 'ca.crt': fs.readFileSync(emulators.caFile, 'utf8') },
    });

    step(
      'Deploying the synth output: CRD stack first, then rules, AS3 declaration, tmsh and the controller objects; it returns once the controller pods are Ready',
    );
    const deployed = await deploySynthOutput(outdir, emulators);
    say(
      `  ${deployed.kubernetesObjects} Kubernetes objects, ${deployed.declarations} AS3 declaration, ${deployed.commands} tmsh command(s)`,
    );
    say(`  global context enforced policy: ${emulators.bigip.globalRules().enforcedPolicy}`);
    say('  source lists on the BIG-IP before any app pod exists (fail closed):');
    printLists(emulators);

    step('Creating a Service and pods');
    emulators.kube.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'payments', name: 'checkout' },
      spec: { selector: { app: 'checkout' } },
    });
    emulators.kube.apply(pod('payments', 'checkout-1', '10.244.1.11', { app: 'checkout' }));
    emulators.kube.apply(pod('payments', 'checkout-2', '10.244.1.12', { app: 'checkout' }));
    emulators.kube.apply(pod('web', 'frontend-1', '10.244.2.21', { app: 'frontend' }));

    step('The controller pods, running from the synthesized code and plan ConfigMaps, fill the lists');
    await waitFor(
      'the controller to fill the lists',
      () => (sourceLists(emulators).get('/Common/Shared/k8s_prod_east_src_ns_payments') ?? []).length === 2,
    );
    say('  source lists on the BIG-IP:');
    printLists(emulators);

    step('Verifying the BIG-IP against the synth output and the cluster (cdktf-ces verify)');
    await verify(outdir, emulators);

    const flows = [
      { label: 'payments pod → internet HTTPS', from: '10.244.1.11', to: '198.51.100.7', protocol: 'tcp', port: 443 },
      { label: 'payments pod → known C2 range', from: '10.244.1.11', to: '203.0.113.9', protocol: 'tcp', port: 443 },
      { label: 'web pod → internet HTTPS', from: '10.244.2.21', to: '198.51.100.7', protocol: 'tcp', port: 443 },
      { label: 'web pod → cluster DNS', from: '10.244.2.21', to: '10.96.0.10', protocol: 'udp', port: 53 },
      { label: 'unknown address → cluster DNS', from: '10.244.9.9', to: '10.96.0.10', protocol: 'udp', port: 53 },
    ];
    step("Verdicts (AFM evaluator over the emulated BIG-IP's declaration and lists)");
    printVerdicts(emulators, flows);

    step('Scaling payments up by two pods and deleting checkout-1');
    emulators.kube.apply(pod('payments', 'checkout-3', '10.244.1.13', { app: 'checkout' }));
    emulators.kube.apply(pod('payments', 'checkout-4', '10.244.1.14', { app: 'checkout' }));
    emulators.kube.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'payments', name: 'checkout-1' });
    await waitFor('the lists to follow', () => {
      const members = sourceLists(emulators).get('/Common/Shared/k8s_prod_east_src_ns_payments') ?? [];
      return members.length === 3 && !members.includes('10.244.1.11');
    });
    printLists(emulators);
    say("  the deleted pod's address no longer matches the payments rule:");
    printVerdicts(emulators, [
      { label: 'former checkout-1 address → internet HTTPS', from: '10.244.1.11', to: '198.51.100.7', protocol: 'tcp', port: 443 },
      { label: 'checkout-4 → internet HTTPS', from: '10.244.1.14', to: '198.51.100.7', protocol: 'tcp', port: 443 },
    ]);

    step('Rule status as kubectl get afmcgr,afmngr would show it');
    await waitFor('rule status', () =>
      emulators.kube
        .list({ apiVersion: 'egress.cdktf-ces.io/v1alpha1', kind: 'NamespaceEgressRule' })
        .every((r: any) => r.status?.members === 3),
    );
    for (const kind of ['ClusterEgressRule', 'NamespaceEgressRule']) {
      for (const r of emulators.kube.list({ apiVersion: 'egress.cdktf-ces.io/v1alpha1', kind }) as any[]) {
        const ready = r.status?.conditions?.find((c: any) => c.type === 'Ready');
        say(
          `  ${kind.padEnd(20)} ${`${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}`.padEnd(24)} ${String(r.spec.action).padEnd(11)} Ready=${ready?.status} ${ready?.reason}: ${ready?.message}`,
        );
      }
    }
    step(`Done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    await workloads.stop();
    await emulators.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
