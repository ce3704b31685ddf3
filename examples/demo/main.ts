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
 *    few flows, decided by the AFM evaluator over what the emulated BIG-IP holds;
 * 6. send flows through the emulated BIG-IP, which logs them to the controller pods' flow-log
 *    receiver (through the flow-log Service, as kube-proxy would route it); read the pods' JSON
 *    lines, and end with `cdktf-ces report` and `cdktf-ces suggest` over them.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { verifyCommandWith } from '../../lib/cli/commands/verify';
import { reportCommand } from '../../lib/cli/commands/report';
import { suggestCommand } from '../../lib/cli/commands/suggest';
import { CliCommand, parseCommandArgs } from '../../lib/cli/registry';
import { FLOW_RECORD_FORMAT } from '../../lib/flowlog/enrich';
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

/** Runs a CLI command in the synth output's folder and prints what it writes; a non-zero exit fails the demo. */
async function cli(command: CliCommand, outdir: string, argv: string[], shown: string[], maxLines = 40): Promise<void> {
  say(`  $ cdktf-ces ${command.name} ${shown.join(' ')}`);
  let out = '';
  const code = await command.run(parseCommandArgs(command, argv), {
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    cwd: path.dirname(outdir),
  });
  const lines = out.trimEnd().split('\n');
  for (const line of lines.slice(0, maxLines)) say(`  ${line}`);
  if (lines.length > maxLines) say(`  … ${lines.length - maxLines} more lines`);
  if (code !== 0) throw new Error(`cdktf-ces ${command.name} exited with ${code}`);
}

function metricsServiceOf(emulators: Emulators): string {
  const service = emulators.kube.list({ apiVersion: 'v1', kind: 'Service' }).find((x) => String(x.metadata.name).endsWith('-metrics'));
  return service?.metadata.name as string;
}

/** The pod count a controller replica's /readyz reports (its informer cache), or -1. */
function readyzPods(port: number): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/readyz', timeout: 1000 }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          const pods: unknown = JSON.parse(body).pods;
          resolve(typeof pods === 'number' ? pods : -1);
        });
      })
      .on('error', () => resolve(-1));
  });
}

/** The flow records the controller pods wrote (their stdout, what `kubectl logs` shows), in time order. */
function flowRecords(logDir: string): string[] {
  const records: string[] = [];
  for (const file of fs.readdirSync(logDir))
    for (const line of fs.readFileSync(path.join(logDir, file), 'utf8').split('\n'))
      if (line.includes(`"format":"${FLOW_RECORD_FORMAT}"`)) records.push(line);
  const timeOf = new Map(records.map((line) => [line, JSON.parse(line).time as string]));
  return records.sort((a, b) => (timeOf.get(a) as string).localeCompare(timeOf.get(b) as string));
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
  const outdir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-demo-')), 'cdktf.out');
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
  // Container logs, as the runtime keeps them (what `kubectl logs` reads).
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-demo-pods-'));
  const workloads = new WorkloadEmulator(emulators.kube, {
    runner: controllerContainerRunner(emulators, { env: { COALESCE_MS: '100' }, logDir }),
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

    const beforeScaling = new Date();
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
    step('Flow logs: the BIG-IP logs flows to the controller pods, which name the pod and the rule of each');
    // The device sends to 192.0.2.50:5514, the address the load balancer would give the flow-log
    // Service; here that address leads where kube-proxy would send it: a ready controller pod.
    const flowService = emulators.kube
      .list({ apiVersion: 'v1', kind: 'Service' })
      .find((x) => String(x.metadata.name).endsWith('-flowlog')) as { metadata: { namespace: string; name: string } };
    emulators.bigip.setLogRoute((address, port, protocol) =>
      address === '192.0.2.50' && port === 5514
        ? workloads.serviceEndpoint(flowService.metadata.namespace, flowService.metadata.name, 5514, protocol === 'udp' ? 'UDP' : 'TCP')
        : undefined,
    );
    // checkout-1's address is free now; a web pod gets it, so one address has two owners over time.
    emulators.kube.apply(pod('web', 'frontend-2', '10.244.1.11', { app: 'frontend' }));
    // The receiving pod has seen every pod (its /readyz counts its pod cache) before the flows go out.
    const receiving = workloads.serviceEndpoint(flowService.metadata.namespace, flowService.metadata.name, 5514, 'TCP');
    const probePort = receiving && workloads.serviceEndpoint(flowService.metadata.namespace, metricsServiceOf(emulators), 8080, 'TCP');
    const podCount = () => emulators.kube.list({ apiVersion: 'v1', kind: 'Pod' }).length;
    let cached = -1;
    await waitFor('the receiving controller pod to see every pod', () => {
      if (probePort) void readyzPods(probePort.port).then((n) => (cached = n));
      return cached === podCount();
    });
    const traffic: { from: string; to: string; protocol: string; port: number; times: number; at?: Date }[] = [
      { from: '10.244.1.12', to: '198.51.100.7', protocol: 'tcp', port: 443, times: 4 },
      { from: '10.244.1.13', to: '198.51.100.8', protocol: 'tcp', port: 443, times: 2 },
      { from: '10.244.1.12', to: '203.0.113.9', protocol: 'tcp', port: 443, times: 2 },
      { from: '10.244.2.21', to: '198.51.100.7', protocol: 'tcp', port: 443, times: 3 },
      { from: '10.244.2.21', to: '198.51.100.20', protocol: 'tcp', port: 8443, times: 2 },
      { from: '10.244.1.11', to: '198.51.100.21', protocol: 'tcp', port: 8443, times: 2 },
      // A line the device logged before checkout-1 was deleted, arriving now: named after checkout-1.
      { from: '10.244.1.11', to: '198.51.100.7', protocol: 'tcp', port: 443, times: 1, at: beforeScaling },
    ];
    let logged = 0;
    for (const f of traffic)
      for (let i = 0; i < f.times; i++)
        logged += (await emulators.bigip.sendFlow({ sourceIp: f.from, destinationIp: f.to, protocol: f.protocol, port: f.port }, f.at))
          .lines.length;
    await waitFor('the flow records', () => flowRecords(logDir).length >= logged);
    const flowsFile = path.join(path.dirname(outdir), 'flows.jsonl');
    const records = flowRecords(logDir);
    fs.writeFileSync(flowsFile, `${records.join('\n')}\n`);
    say(
      `  ${logged} AFM events logged by the BIG-IP, ${records.length} JSON lines written by the controller pods; one address, two owners:`,
    );
    const from11 = records.filter((l) => l.includes('"ip":"10.244.1.11"'));
    for (const line of [from11[0], from11[from11.length - 1]]) {
      const r = JSON.parse(line);
      say(
        `  ${JSON.stringify({ time: r.time, verdict: r.verdict, staged: r.staged, source: r.source, destination: r.destination, rule: r.rule ?? (r.defaultRule ? 'device default' : undefined) })}`,
      );
    }

    step('Report: what egress did, per namespace, with the deciding rules');
    const htmlFile = path.join(path.dirname(outdir), 'flows.html');
    await cli(
      reportCommand,
      outdir,
      ['flows.jsonl', '--out', path.basename(outdir), '--html', 'flows.html'],
      ['flows.jsonl', '--html', 'flows.html'],
    );
    say(`  wrote ${htmlFile}`);

    step('Suggested rules for what the web namespace needed and no rule allowed');
    await cli(
      suggestCommand,
      outdir,
      ['flows.jsonl', '--out', path.basename(outdir), '--namespace', 'web'],
      ['flows.jsonl', '--namespace', 'web'],
      60,
    );
    step(`Done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    await workloads.stop();
    await emulators.stop();
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
