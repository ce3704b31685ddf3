/**
 * Controller benchmark: 20,000 pods, 200 source lists, 500 pod events/s (60 s by default)
 * against the emulated Kubernetes API and BIG-IP, with the real controller (the bundle from
 * the synthesized code ConfigMap, as a child process) and, in the same run and on the same
 * workload, the per-event baseline of controller-baseline.ts (same informers and membership
 * index, the upstream CES push policy: every pod event pushes each of the pod's lists at once,
 * serially). Each runs against fresh emulators seeded identically.
 *
 * Churn is pod replacement across namespaces and Services, as a rollout or autoscaler makes
 * it: a new pod is created without an address, gets one, turns Ready (a modification that
 * changes no list), then an old pod starts terminating and later disappears (which changes no
 * list either, it left them when it started terminating). Each step is one watch event. Both
 * runs draw from the same seeded generator; which step comes next follows the wall clock, so
 * the two see statistically the same churn, not an identical event sequence.
 *
 * Measured:
 * - lag: from a membership-changing event (written to the API emulator) to the first push, in
 *   the BIG-IP emulator's history, that makes it effective on each affected list (the address
 *   present after an add, absent after a removal);
 * - BIG-IP calls per second against pod events per second during the churn window;
 * - the child's resident memory and CPU time, from /proc (the controller's own /metrics
 *   figures are read too, as a cross-check).
 */
import { seededRandom } from '../../lib/util';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, BigipCredentials, ClusterEgressRule, EgressAction, EgressCrdStack, EgressController, EgressDestination, NamespaceEgressRule, ServiceEgressRule } from '../../lib';
import { ClusterSnapshot, NamespaceInfo, PodInfo, ServiceInfo, desiredMembers, sourceIncludesPod } from '../../lib/k8s/membership';
import type { PlanList, SyncPlan } from '../../lib/policy/plan';
import { BigipFault } from '../../lib/testing/bigip-emulator';
import { ControllerDeployment, Emulators, deploySynthOutput, runControllerProcess, startEmulators } from '../../lib/testing/deploy';

export interface ControllerBenchOptions {
  /** @default 20000 */
  readonly pods?: number;
  /** Team namespaces; each has a namespace rule, most a service rule (lists = 2 × namespaces). @default 100 */
  readonly namespaces?: number;
  /** @default 500 */
  readonly eventsPerSecond?: number;
  /** Churn duration. @default 60, or BENCH_CONTROLLER_SECONDS */
  readonly durationSeconds?: number;
  /** How long to wait for the lists to settle after the churn. @default 120 */
  readonly drainSeconds?: number;
  /** @default 7 */
  readonly seed?: number;
  /** @default ['controller', 'baseline'] */
  readonly modes?: readonly Mode[];
  /** Progress lines on stderr. @default true */
  readonly progress?: boolean;
  /**
   * Added delay of every list push on the emulated BIG-IP (a device's own cost per call, which
   * the emulator does not have). A sensitivity check, not the headline figure.
   * @default 0, or BENCH_DEVICE_LATENCY_MS
   */
  readonly deviceLatencyMs?: number;
}

export type Mode = 'controller' | 'baseline';

export interface ModeResult {
  readonly mode: Mode;
  readonly durationSeconds: number;
  readonly podEvents: number;
  readonly membershipChanges: number;
  readonly bigipCalls: number;
  readonly nodePushes: number;
  readonly eventsPerSecond: number;
  readonly callsPerSecond: number;
  readonly lagMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly effective: number; readonly superseded: number; readonly unresolved: number };
  /** The same for removals alone (an address leaving a list: the security-relevant direction). */
  readonly removalLagMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly initialSyncSeconds: number;
  readonly drainSeconds: number;
  readonly converged: boolean;
  readonly rssMbAtPods: number;
  readonly peakRssMb: number;
  readonly cpuSecondsChurn: number;
  readonly cpuSecondsInitialSync: number;
  /** The controller's own /metrics figures (cross-check of /proc), controller mode only. */
  readonly selfReported?: { readonly rssMb: number; readonly cpuSeconds: number; readonly pods: number };
}

export interface ControllerBenchResult {
  readonly pods: number;
  readonly lists: number;
  readonly targetEventsPerSecond: number;
  readonly deviceLatencyMs: number;
  readonly modes: Partial<Record<Mode, ModeResult>>;
}

const CONTROLLER_NAMESPACE = 'cdktf-ces-system';
const USER = 'egress-sync';
const PASSWORD = 'bench-password';
const NODES = 'POST /mgmt/shared/service-discovery/task/{taskId}/nodes';


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const nsName = (i: number) => `team-${String(i).padStart(2, '0')}`;
const ipOf = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;

// ------------------------------------------------------------------------------------ workload

interface Workload {
  readonly outdir: string;
  readonly namespaces: readonly NamespaceInfo[];
  readonly services: readonly ServiceInfo[];
}

/**
 * The policy: per team namespace a namespace rule; a service rule for `svc-0` of every team
 * namespace but two; a cluster rule over the `tier: prod` namespaces and one over pods labelled
 * `egress: internet`. 100 namespaces give 200 lists.
 */
function synthWorkload(namespaces: number): Workload {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-bench-controller-'));
  const app = new App({ outdir });
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', { clusterName: 'bench', address: '127.0.0.1', credentials: BigipCredentials.fromEnvironment(), tlsCaBundlePath: '/ca.pem', crdStack: crds });
  const to = [EgressDestination.cidr('198.51.100.0/24')];
  new ClusterEgressRule(stack, 'Prod', { device, name: 'prod', action: EgressAction.ALLOW, namespaceSelector: { matchLabels: { tier: 'prod' } }, destinations: to });
  new ClusterEgressRule(stack, 'Internet', { device, name: 'internet', action: EgressAction.ALLOW, podSelector: { matchLabels: { egress: 'internet' } }, destinations: [EgressDestination.anyIpv4()] });
  const nsInfos: NamespaceInfo[] = [];
  const services: ServiceInfo[] = [];
  for (let i = 0; i < namespaces; i++) {
    const ns = nsName(i);
    nsInfos.push({ name: ns, labels: { 'kubernetes.io/metadata.name': ns, ...(i % 10 === 0 ? { tier: 'prod' } : {}) } });
    new NamespaceEgressRule(stack, `Ns${i}`, { device, namespace: ns, name: 'team', action: EgressAction.ALLOW, destinations: to });
    if (i < namespaces - 2) new ServiceEgressRule(stack, `Svc${i}`, { device, namespace: ns, service: 'svc-0', name: 'svc-0', action: EgressAction.ALLOW, destinations: to });
    for (let s = 0; s < 5; s++) services.push({ namespace: ns, name: `svc-${s}`, selector: { app: `svc-${s}` } });
  }
  new EgressController(stack, 'Controller', { device, credentialsSecret: 'bigip-login', caBundleConfigMap: 'bigip-ca' });
  app.synth();
  return { outdir, namespaces: nsInfos, services };
}

function podObject(p: PodInfo, ready: boolean): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: p.namespace, name: p.name, labels: p.labels },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    status: {
      phase: p.phase,
      ...(p.ips.length ? { podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) } : {}),
      ...(ready ? { conditions: [{ type: 'Ready', status: 'True' }] } : {}),
    },
  };
}

/** Lists a pod is a source of (eligible or not), from the plan and the workload's view. */
class ListLookup {
  private readonly clusterLists: PlanList[];
  private readonly byNamespace = new Map<string, PlanList[]>();
  private readonly nsLabels: Map<string, Readonly<Record<string, string>>>;
  private readonly services: Map<string, ServiceInfo>;

  constructor(plan: SyncPlan, workload: Workload) {
    this.clusterLists = plan.lists.filter((l) => l.source.level === 'cluster');
    for (const l of plan.lists) if (l.source.level !== 'cluster') this.byNamespace.set(l.source.namespace as string, [...(this.byNamespace.get(l.source.namespace as string) ?? []), l]);
    this.nsLabels = new Map(workload.namespaces.map((n) => [n.name, n.labels]));
    this.services = new Map(workload.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  }

  taskIds(pod: PodInfo): string[] {
    const labels = this.nsLabels.get(pod.namespace);
    const out: string[] = [];
    for (const l of this.clusterLists) if (sourceIncludesPod(l.source, pod, labels, undefined)) out.push(l.taskId);
    for (const l of this.byNamespace.get(pod.namespace) ?? []) {
      const service = l.source.level === 'service' ? this.services.get(`${pod.namespace}/${l.source.service}`) : undefined;
      if (sourceIncludesPod(l.source, pod, labels, service)) out.push(l.taskId);
    }
    return out;
  }
}

/** One membership change the device must reflect: address in (add) or out of a list. */
interface Change {
  readonly at: number;
  readonly ip: string;
  readonly add: boolean;
}

/**
 * Drives pod replacements at a fixed event rate; every step is one write to the API emulator
 * (one watch event). Keeps its own view of the pods, for the expected lists and the changes.
 */
class Churn {
  readonly pods = new Map<string, PodInfo>();
  /** Running, Ready pods that are not being replaced: candidates for the next replacement. */
  private readonly candidates: string[] = [];
  private readonly steps: { due: number; run: () => void }[] = [];
  readonly changes = new Map<string, Change[]>();
  events = 0;
  membershipChanges = 0;
  private nextPod = 0;
  private nextAddress: number;

  constructor(
    private readonly emulators: Emulators,
    private readonly lookup: ListLookup,
    private readonly workload: Workload,
    private readonly random: () => number,
    initialAddresses: number,
  ) {
    this.nextAddress = (64 << 16) + initialAddresses + 1; // 10.64.x.y on: never an initial pod's address
  }

  /** The initial pods (no events counted: they exist before the controller starts). */
  seed(count: number): void {
    const kube = this.emulators.kube;
    for (let i = 0; i < count; i++) {
      const ns = this.workload.namespaces[i % this.workload.namespaces.length].name;
      const pod = this.newPod(ns, `svc-${i % 5}`, [ipOf((1 << 16) + i + 1)], 'Running');
      kube.apply(podObject(pod, true));
      this.pods.set(`${ns}/${pod.name}`, pod);
      this.candidates.push(`${ns}/${pod.name}`);
    }
  }

  /** A pod of Service `app` (its `app` label); one in twenty may reach the internet. */
  private newPod(ns: string, app: string, ips: string[], phase: string): PodInfo {
    const labels: Record<string, string> = { app, ...(this.random() < 0.05 ? { egress: 'internet' } : {}) };
    return { namespace: ns, name: `pod-${this.nextPod++}`, labels, ips, phase };
  }

  private record(pod: PodInfo, ip: string, add: boolean, at: number): void {
    for (const taskId of this.lookup.taskIds(pod)) {
      let list = this.changes.get(taskId);
      if (!list) this.changes.set(taskId, (list = []));
      list.push({ at, ip, add });
      this.membershipChanges++;
    }
  }

  private later(delayMs: number, run: () => void): void {
    this.steps.push({ due: Date.now() + delayMs, run });
  }

  /** One replacement, five events: create, address, Ready, old pod terminating, old pod gone. */
  private startReplacement(): void {
    const kube = this.emulators.kube;
    const pick = Math.floor(this.random() * this.candidates.length);
    const oldKey = this.candidates[pick];
    this.candidates[pick] = this.candidates[this.candidates.length - 1];
    this.candidates.pop();
    const old = this.pods.get(oldKey) as PodInfo;
    const fresh = this.newPod(old.namespace, old.labels.app, [], 'Pending'); // same Deployment, same Service
    const key = `${fresh.namespace}/${fresh.name}`;
    kube.apply(podObject(fresh, false));
    this.pods.set(key, fresh);
    this.later(200 + this.random() * 600, () => {
      const ip = ipOf(this.nextAddress++);
      const running = { ...fresh, ips: [ip], phase: 'Running' };
      kube.apply(podObject(running, false));
      this.pods.set(key, running);
      this.record(running, ip, true, Date.now());
      this.later(300 + this.random() * 900, () => {
        kube.apply(podObject(running, true)); // Ready: no list changes
        this.later(this.random() * 300, () => {
          kube.delete({ apiVersion: 'v1', kind: 'Pod', namespace: old.namespace, name: old.name }); // terminating
          this.pods.set(oldKey, { ...old, terminating: true });
          for (const oldIp of old.ips) this.record(old, oldIp, false, Date.now());
          this.later(500 + this.random() * 1500, () => {
            kube.finishPodTermination(old.namespace, old.name); // gone: no list changes
            this.pods.delete(oldKey);
            this.candidates.push(key);
          });
        });
      });
    });
  }

  /** One event: the most overdue step, or a new replacement. */
  step(): void {
    let best = -1;
    const now = Date.now();
    for (let i = 0; i < this.steps.length; i++) if (this.steps[i].due <= now && (best < 0 || this.steps[i].due < this.steps[best].due)) best = i;
    if (best >= 0) {
      const s = this.steps[best];
      this.steps[best] = this.steps[this.steps.length - 1];
      this.steps.pop();
      s.run();
    } else {
      this.startReplacement();
    }
    this.events++;
  }

  /** Runs at `rate` events per second for `seconds`. */
  async run(rate: number, seconds: number): Promise<void> {
    const start = Date.now();
    const end = start + seconds * 1000;
    let emitted = 0;
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (emitted < due) {
        this.step();
        emitted++;
      }
      await sleep(5);
    }
  }

  snapshot(): ClusterSnapshot {
    return { pods: [...this.pods.values()], namespaces: this.workload.namespaces, services: this.workload.services };
  }
}

// ------------------------------------------------------------------------------------ measuring

interface ProcStats {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function procStats(pid: number): ProcStats {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssBytes: rss ? Number(rss[1]) * 1024 : 0, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

function httpGet(port: number, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function quantile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/**
 * For every change, the first push to its list at or after it that makes it effective.
 * Walks each list's pushes in time order with the changes pending at that moment. A change
 * followed by a newer change of the same address before either reached the device (a pod
 * replaced before its address was pushed) is superseded: it never had to reach the device.
 */
function lags(emulators: Emulators, changes: Map<string, Change[]>, since: number): { lags: number[]; removals: number[]; superseded: number; unresolved: number } {
  const out: number[] = [];
  const removals: number[] = [];
  let superseded = 0;
  let unresolved = 0;
  for (const [taskId, list] of changes) {
    const pushes = emulators.bigip.nodePushes({ list: taskId, since });
    let next = 0;
    const pending = new Map<string, Change>();
    for (const push of pushes) {
      while (next < list.length && list[next].at <= push.at) {
        const c = list[next++];
        if (pending.has(c.ip)) superseded++;
        pending.set(c.ip, c);
      }
      if (!pending.size) continue;
      const members = new Set(push.ips);
      for (const [ip, c] of pending) {
        if (members.has(ip) === c.add) {
          out.push(push.at - c.at);
          if (!c.add) removals.push(push.at - c.at);
          pending.delete(ip);
        }
      }
    }
    // Changes after the last push superseding one another count once as unresolved.
    for (; next < list.length; next++) {
      const c = list[next];
      if (pending.has(c.ip)) superseded++;
      pending.set(c.ip, c);
    }
    unresolved += pending.size;
  }
  return { lags: out.sort((a, b) => a - b), removals: removals.sort((a, b) => a - b), superseded, unresolved };
}

function listsEqual(emulators: Emulators, plan: SyncPlan, expected: Map<string, string[]>): boolean {
  for (const l of plan.lists) {
    const device = emulators.bigip.listMembers(l.taskId);
    const want = expected.get(l.path) as string[];
    if (!device || device.length !== want.length) return false;
    const sorted = [...device].sort();
    for (let i = 0; i < want.length; i++) if (sorted[i] !== want[i]) return false;
  }
  return true;
}

async function waitFor(check: () => boolean, limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

// ------------------------------------------------------------------------------------ one mode

function baselineCommand(): string[] {
  const js = path.join(__dirname, 'controller-baseline.js');
  if (fs.existsSync(js)) return [js];
  // Run from the TypeScript sources (npx tsx test/bench/controller.ts).
  return ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'controller-baseline.ts')];
}

/** The environment the Deployment gives the controller, pointed at the emulators. */
function baselineEnv(deployment: ControllerDeployment, emulators: Emulators, plan: SyncPlan): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(emulators.workdir, 'baseline-'));
  fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
  fs.mkdirSync(path.join(dir, 'bigip'));
  fs.writeFileSync(path.join(dir, 'bigip', 'username'), USER, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'bigip', 'password'), PASSWORD, { mode: 0o600 });
  return {
    PATH: process.env.PATH ?? '',
    BIGIP_URL: emulators.bigip.url,
    BIGIP_CA_FILE: emulators.caFile,
    BIGIP_CREDENTIALS_DIR: path.join(dir, 'bigip'),
    CES_PLAN_FILE: path.join(dir, 'plan.json'),
    KUBECONFIG: emulators.kubeconfigFile,
    POD_NAMESPACE: deployment.namespace,
    LEADER_ELECTION: 'false',
  };
}

async function runMode(mode: Mode, workload: Workload, o: Required<Omit<ControllerBenchOptions, 'modes'>>, say: (line: string) => void): Promise<{ result: ModeResult; plan: SyncPlan }> {
  const emulators = await startEmulators({
    bigip: { users: { admin: 'admin', [USER]: PASSWORD }, historyLimit: 5_000_000, historyIpLimit: 400_000_000 },
    kube: { podGracefulDeletion: {}, historyLimit: 100_000 },
  });
  let child: ChildProcess | undefined;
  try {
    const kube = emulators.kube;
    kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONTROLLER_NAMESPACE } });
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { namespace: CONTROLLER_NAMESPACE, name: 'bigip-login' }, stringData: { username: USER, password: PASSWORD } });
    kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: CONTROLLER_NAMESPACE, name: 'bigip-ca' }, data: { 'ca.crt': fs.readFileSync(emulators.caFile, 'utf8') } });
    for (const n of workload.namespaces) kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: n.labels } });
    for (const s of workload.services) kube.apply({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: s.namespace, name: s.name }, spec: { selector: s.selector, ports: [{ port: 80 }] } });
    const deployed = await deploySynthOutput(workload.outdir, emulators);
    const deployment = deployed.controllers[0];
    const planCm = kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: deployment.namespace, name: deployment.configMaps.find((c) => c.mountPath.endsWith('/plan'))!.name }) as unknown as { data: Record<string, string> };
    const plan = JSON.parse(planCm.data['plan.json']) as SyncPlan;

    if (o.deviceLatencyMs > 0) emulators.bigip.injectFault({ fault: BigipFault.LATENCY, pathPrefix: '/mgmt/shared/service-discovery/task/', latencyMs: o.deviceLatencyMs });
    const churn = new Churn(emulators, new ListLookup(plan, workload), workload, seededRandom(o.seed), o.pods);
    churn.seed(o.pods);
    const expectedInitial = desiredMembers(plan, churn.snapshot(), new Date());
    say(`${mode}: ${o.pods} pods, ${plan.lists.length} lists seeded; starting`);

    const port = await freePort();
    const started = Date.now();
    if (mode === 'controller') {
      child = runControllerProcess(deployment, emulators, { username: USER, password: PASSWORD, podName: 'controller-0', httpPort: port, env: { LOG_LEVEL: 'warn' }, stdio: 'pipe' });
    } else {
      child = spawn(process.execPath, baselineCommand(), { env: baselineEnv(deployment, emulators, plan), stdio: 'pipe' });
    }
    const stderr: string[] = [];
    child.stdout?.resume();
    child.stderr?.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
    const pid = child.pid as number;
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));

    const synced = await waitFor(() => child!.exitCode === null && listsEqual(emulators, plan, expectedInitial), 300_000);
    if (!synced) throw new Error(`${mode}: the lists did not reach their initial content within 300 s${stderr.length ? `; stderr: ${stderr.join('').slice(0, 2000)}` : ''}`);
    const initialSyncSeconds = (Date.now() - started) / 1000;
    await sleep(2000); // let the heap settle after the initial list
    const atPods = procStats(pid);
    say(`${mode}: initial sync ${initialSyncSeconds.toFixed(1)} s, RSS ${(atPods.rssBytes / 2 ** 20).toFixed(0)} MB; churn ${o.eventsPerSecond} events/s for ${o.durationSeconds} s`);

    emulators.bigip.resetCounters();
    const churnStart = Date.now();
    let peakRss = atPods.rssBytes;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, procStats(pid).rssBytes);
      } catch {
        // the child has exited; reported below
      }
    }, 500);
    await churn.run(o.eventsPerSecond, o.durationSeconds);
    const churnEnd = Date.now();
    const callsInChurn = emulators.bigip.requestCount();
    const pushesInChurn = emulators.bigip.requestCount(NODES);
    const afterChurn = procStats(pid);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, afterChurn.rssBytes);
    let selfReported: ModeResult['selfReported'];
    if (mode === 'controller') {
      const text = await httpGet(port, '/metrics');
      selfReported = {
        rssMb: (metric(text, 'cdktf_ces_process_resident_memory_bytes') ?? NaN) / 2 ** 20,
        cpuSeconds: metric(text, 'cdktf_ces_process_cpu_seconds_total') ?? NaN,
        pods: metric(text, 'cdktf_ces_pods') ?? NaN,
      };
    }
    say(`${mode}: churn done (${churn.events} events, ${callsInChurn} BIG-IP calls); waiting for the lists to settle`);

    const expectedFinal = desiredMembers(plan, churn.snapshot(), new Date());
    const converged = await waitFor(() => listsEqual(emulators, plan, expectedFinal), o.drainSeconds * 1000);
    const drainSeconds = (Date.now() - churnEnd) / 1000;
    const { lags: lagList, removals, superseded, unresolved } = lags(emulators, churn.changes, churnStart);

    child.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    const duration = (churnEnd - churnStart) / 1000;
    const result: ModeResult = {
      mode,
      durationSeconds: duration,
      podEvents: churn.events,
      membershipChanges: churn.membershipChanges,
      bigipCalls: callsInChurn,
      nodePushes: pushesInChurn,
      eventsPerSecond: churn.events / duration,
      callsPerSecond: callsInChurn / duration,
      lagMs: { p50: quantile(lagList, 0.5), p90: quantile(lagList, 0.9), p99: quantile(lagList, 0.99), max: lagList[lagList.length - 1] ?? NaN, effective: lagList.length, superseded, unresolved },
      removalLagMs: { p50: quantile(removals, 0.5), p99: quantile(removals, 0.99), max: removals[removals.length - 1] ?? NaN },
      initialSyncSeconds,
      drainSeconds,
      converged,
      rssMbAtPods: atPods.rssBytes / 2 ** 20,
      peakRssMb: peakRss / 2 ** 20,
      cpuSecondsChurn: afterChurn.cpuSeconds - atPods.cpuSeconds,
      cpuSecondsInitialSync: atPods.cpuSeconds,
      selfReported,
    };
    return { result, plan };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await emulators.stop();
  }
}

// ------------------------------------------------------------------------------------ report

const fmt = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');
const secs = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s` : 'n/a');

function rowsFor(result: ControllerBenchResult): string[] {
  const b = result.modes.baseline;
  const c = result.modes.controller;
  const cell = (r: ModeResult | undefined, f: (r: ModeResult) => string) => (r ? f(r) : '(not run)');
  const lag = (r: ModeResult) => `${secs(r.lagMs.p50)} / ${secs(r.lagMs.p99)}${r.lagMs.unresolved ? ` (${fmt(r.lagMs.unresolved)} of ${fmt(r.membershipChanges)} changes still not on the device after the ${fmt(r.drainSeconds)} s drain: not counted)` : ''}`;
  const rows = [
    `${fmt(result.pods)} pods, ${result.lists} source lists, ${result.targetEventsPerSecond} pod events/s for ${cell(c ?? b, (r) => fmt(r.durationSeconds))} s (pod replacements: create, address, Ready, terminating, gone)` +
      (result.deviceLatencyMs ? `; every list push delayed ${result.deviceLatencyMs} ms on the emulated BIG-IP` : '; the emulated BIG-IP answers a list push in about a millisecond'),
    '',
    '| | per-event baseline (upstream CES policy) | cdktf-ces controller | floor |',
    '|---|---|---|---|',
    `| pod events/s (watch events) | ${cell(b, (r) => fmt(r.eventsPerSecond))} | ${cell(c, (r) => fmt(r.eventsPerSecond))} | |`,
    `| list memberships changed/s | ${cell(b, (r) => fmt(r.membershipChanges / r.durationSeconds))} | ${cell(c, (r) => fmt(r.membershipChanges / r.durationSeconds))} | |`,
    `| BIG-IP calls/s (of which list pushes) | ${cell(b, (r) => `${fmt(r.callsPerSecond, 1)} (${fmt(r.nodePushes / r.durationSeconds, 1)})`)} | ${cell(c, (r) => `${fmt(r.callsPerSecond, 1)} (${fmt(r.nodePushes / r.durationSeconds, 1)})`)} | |`,
    `| events per BIG-IP call | ${cell(b, (r) => fmt(r.eventsPerSecond / r.callsPerSecond, 1))} | ${cell(c, (r) => fmt(r.eventsPerSecond / r.callsPerSecond, 1))} | ≥ 20 |`,
    `| lag event → effective on the BIG-IP, p50 / p99 | ${cell(b, lag)} | ${cell(c, lag)} | |`,
    `| of which removals (address leaves a list), p50 / p99 / max | ${cell(b, (r) => `${secs(r.removalLagMs.p50)} / ${secs(r.removalLagMs.p99)} / ${secs(r.removalLagMs.max)}`)} | ${cell(c, (r) => `${secs(r.removalLagMs.p50)} / ${secs(r.removalLagMs.p99)} / ${secs(r.removalLagMs.max)}`)} | |`,
    `| changes superseded before any push (pod replaced before its address reached the device) | ${cell(b, (r) => fmt(r.lagMs.superseded))} | ${cell(c, (r) => fmt(r.lagMs.superseded))} | |`,
    `| lists settled after the churn | ${cell(b, (r) => (r.converged ? `yes, ${fmt(r.drainSeconds, 1)} s` : `no, after ${fmt(r.drainSeconds)} s`))} | ${cell(c, (r) => (r.converged ? `yes, ${fmt(r.drainSeconds, 1)} s` : `no, after ${fmt(r.drainSeconds)} s`))} | |`,
    `| RSS at ${fmt(result.pods)} pods (after the initial sync) | ${cell(b, (r) => `${fmt(r.rssMbAtPods)} MB`)} | ${cell(c, (r) => `${fmt(r.rssMbAtPods)} MB`)} | ≤ 200 MB |`,
    `| peak RSS during the churn | ${cell(b, (r) => `${fmt(r.peakRssMb)} MB`)} | ${cell(c, (r) => `${fmt(r.peakRssMb)} MB`)} | ≤ 200 MB |`,
    `| CPU during the churn (share of one core) | ${cell(b, (r) => `${fmt(r.cpuSecondsChurn, 1)} s (${fmt((100 * r.cpuSecondsChurn) / r.durationSeconds)} %)`)} | ${cell(c, (r) => `${fmt(r.cpuSecondsChurn, 1)} s (${fmt((100 * r.cpuSecondsChurn) / r.durationSeconds)} %)`)} | |`,
    `| initial list of ${fmt(result.pods)} pods and first push of every list: time, CPU | ${cell(b, (r) => `${fmt(r.initialSyncSeconds, 1)} s, ${fmt(r.cpuSecondsInitialSync, 1)} s`)} | ${cell(c, (r) => `${fmt(r.initialSyncSeconds, 1)} s, ${fmt(r.cpuSecondsInitialSync, 1)} s`)} | |`,
  ];
  if (c?.selfReported) rows.push('', `Controller's own /metrics at the end of the churn: RSS ${fmt(c.selfReported.rssMb)} MB, CPU ${fmt(c.selfReported.cpuSeconds, 1)} s since start, ${fmt(c.selfReported.pods)} pods cached.`);
  if (c) {
    const ratio = c.eventsPerSecond / c.callsPerSecond;
    rows.push(
      `Floors (controller): ${ratio >= 20 ? 'met' : 'NOT met'}: ${fmt(ratio, 1)} events per BIG-IP call (floor 20); ` +
        `${c.peakRssMb <= 200 ? 'met' : 'NOT met'}: peak RSS ${fmt(c.peakRssMb)} MB (floor 200 MB).`,
    );
  }
  return rows;
}

export async function runControllerBench(options: ControllerBenchOptions = {}): Promise<{ rows: string[]; result: ControllerBenchResult }> {
  const o = {
    pods: options.pods ?? 20_000,
    namespaces: options.namespaces ?? 100,
    eventsPerSecond: options.eventsPerSecond ?? 500,
    durationSeconds: options.durationSeconds ?? Number(process.env.BENCH_CONTROLLER_SECONDS ?? 60),
    drainSeconds: options.drainSeconds ?? 120,
    deviceLatencyMs: options.deviceLatencyMs ?? Number(process.env.BENCH_DEVICE_LATENCY_MS ?? 0),
    seed: options.seed ?? 7,
    progress: options.progress ?? true,
  };
  const modes = options.modes ?? ['controller', 'baseline'];
  const say = (line: string) => {
    if (o.progress) process.stderr.write(`[bench controller] ${line}\n`);
  };
  const workload = synthWorkload(o.namespaces);
  try {
    const result: { pods: number; lists: number; targetEventsPerSecond: number; deviceLatencyMs: number; modes: Partial<Record<Mode, ModeResult>> } = {
      pods: o.pods,
      lists: 0,
      targetEventsPerSecond: o.eventsPerSecond,
      deviceLatencyMs: o.deviceLatencyMs,
      modes: {},
    };
    for (const mode of modes) {
      const { result: r, plan } = await runMode(mode, workload, o, say);
      result.lists = plan.lists.length;
      result.modes[mode] = r;
    }
    return { rows: rowsFor(result), result };
  } finally {
    fs.rmSync(workload.outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const modes = process.argv[2] ? (process.argv[2].split(',') as Mode[]) : undefined;
  runControllerBench({ modes }).then(
    ({ rows, result }) => {
      process.stdout.write(`${rows.join('\n')}\n`);
      if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(result, null, 2));
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`controller bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
