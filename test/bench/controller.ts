/**
 * Controller benchmark: 20,000 pods, 200 source lists, a grid of pod event rates × device costs,
 * against the emulated Kubernetes API and a BIG-IP whose control plane has a cost (device-model.ts
 * in front of the BIG-IP emulator), with the real controller (the bundle from the synthesized
 * code ConfigMap, as a child process) and, in the same run, at the same time and on the same
 * workload, the per-event baseline of controller-baseline.ts (same informers and membership
 * index, the upstream CES push policy: every pod event pushes each of the pod's lists at once,
 * serially). Each has its own emulators and device, seeded identically.
 *
 * Device: one control plane that works one push at a time; a push costs `deviceCostMs` plus
 * `perEntryMs` (5 µs by default) per address in the list. 503 when more than 16 pushes wait.
 *
 * Churn is pod replacement across namespaces and Services, as a rollout or autoscaler makes
 * it: a new pod is created without an address, gets one, turns Ready (a modification that
 * changes no list), then an old pod starts terminating and later disappears (which changes no
 * list either, it left them when it started terminating). Each step is one watch event. Both
 * runs draw from the same seeded generator; which step comes next follows the wall clock, so
 * the two see statistically the same churn, not an identical event sequence.
 *
 * Per grid point: both processes start afresh on a device that already has the point's cost
 * (initial list of every pod and first push of every list, not measured), then churn for
 * `durationSeconds`, then the lists are watched until they settle or `observeSeconds` pass (the
 * baseline at least as long as the controller, and at least the churn's duration); a change
 * still not on the device then counts with its lag so far.
 *
 * Measured per point and process:
 * - lag: from a membership-changing event (written to the API emulator) to the first push, in
 *   the BIG-IP emulator's history, that makes it effective on each affected list (the address
 *   present after an add, absent after a removal), p50 and p99, for additions and removals;
 * - BIG-IP calls per second during the churn, and the device's busy share (control-plane time
 *   spent on pushes during the churn, from the model's timeline);
 * - the child's peak resident memory, from /proc;
 * - a lower bound of the p99 lag any scheduler could reach on the same device and the
 *   controller's trace of changes (lower-bound.ts), and the controller's ratio to it.
 */
import { EMPTY_LIST_PLACEHOLDER } from '../../lib/clients/bigip/client';
import { seededRandom } from '../../lib/util';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressController,
  EgressDestination,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../lib';
import { ClusterSnapshot, NamespaceInfo, PodInfo, ServiceInfo, desiredMembers, sourceIncludesPod } from '../../lib/policy/membership';
import type { PlanList, SyncPlan } from '../../lib/policy/plan';
import type { BigipNodePush } from '../emulators/bigip/emulator';
import { ControllerDeployment, Emulators, deploySynthOutput, runControllerProcess, startEmulators } from '../emulators/deploy';
import { DeviceModel } from './device-model';
import { ContainerRunner, WorkloadEmulator } from '../emulators/kube/workloads';
import { lowerBoundLagMs, oldestFirstLags } from './lower-bound';

/** A container that runs nothing and answers every probe on its `http` port (8080) with 200. */
const readyStandIn: ContainerRunner = async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    ports: { 8080: (server.address() as net.AddressInfo).port },
    exited: () => false,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

export interface ControllerBenchOptions {
  /** @default 20000 */
  readonly pods?: number;
  /** Team namespaces; each has a namespace rule, most a service rule (lists = 2 × namespaces). @default 100 */
  readonly namespaces?: number;
  /** @default [50, 200, 500], or BENCH_GRID ("50x20,500x1": events/s x ms per push) */
  readonly eventsPerSecond?: readonly number[];
  /** Device cost per list push, in milliseconds. @default [1, 20, 100], or BENCH_GRID */
  readonly deviceCostMs?: readonly number[];
  /** Device cost per address in a pushed list, in milliseconds. @default 0.005 */
  readonly perEntryMs?: number;
  /** Churn per grid point. @default 15, or BENCH_CONTROLLER_SECONDS */
  readonly durationSeconds?: number;
  /** Longest wait for the lists to settle after the churn. @default 30 */
  readonly observeSeconds?: number;
  /** @default 7 */
  readonly seed?: number;
  /** @default ['controller', 'baseline'] */
  readonly modes?: readonly Mode[];
  /** Progress lines on stderr. @default true */
  readonly progress?: boolean;
}

export type Mode = 'controller' | 'baseline';

/** One process at one grid point; lags in seconds. */
export interface ModeFigures {
  readonly lagP50: number;
  readonly lagP99: number;
  readonly removalLagP99: number;
  readonly removalLagP50: number;
  readonly additionLagP50: number;
  readonly additionLagP99: number;
  readonly callsPerSecond: number;
  readonly pushesPerSecond: number;
  /** Share of the churn the device's control plane spent on pushes (0 to 1). */
  readonly deviceBusy: number;
  readonly peakRssMb: number;
  /** Resident memory after the initial list of every pod and the first push of every list. */
  readonly rssMbAtPods: number;
  readonly eventsPerSecond: number;
  readonly membershipChangesPerSecond: number;
  /** Changes still not on the device when the watch ended (counted with their lag so far). */
  readonly unresolved: number;
  readonly superseded: number;
  /** Seconds after the churn until the lists matched the cluster; undefined when they did not. */
  readonly settledSeconds?: number;
  /** Pushes the device refused with 503. */
  readonly refused: number;
  readonly cpuSeconds: number;
}

export interface GridPoint {
  readonly eventsPerSecond: number;
  readonly deviceCostMs: number;
  readonly perEntryMs: number;
  readonly durationSeconds: number;
  readonly controller?: ModeFigures;
  readonly baseline?: ModeFigures;
  /** Lower bound of the p99 lag on this device for the controller's trace of changes, in seconds. */
  readonly lowerBoundP99: number;
  /** The same for schedulers that keep the device busy at most 80 % of the time. */
  readonly lowerBoundP99At80: number;
  /** p99 of the ideal oldest-first scheduler on the controller's trace, device busy at most 80 %. */
  readonly oldestFirstP99At80: number;
  /**
   * Longest event-loop delay of this process (emulators, device models, churn) during the
   * point, in ms: a stall holds pod events back and answers late, so lags near it are ours.
   */
  readonly benchStallMs: number;
}

export interface ControllerBenchResult {
  readonly pods: number;
  readonly lists: number;
  readonly grid: readonly GridPoint[];
  /** The controller's own /metrics figures at the end (cross-check of /proc). */
  readonly selfReported?: { readonly rssMb: number; readonly cpuSeconds: number; readonly pods: number };
}

const CONTROLLER_NAMESPACE = 'cdktf-ces-system';
const USER = 'egress-sync';
const PASSWORD = 'bench-password';

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
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'bench',
    address: '127.0.0.1',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/ca.pem',
    crdStack: crds,
  });
  const to = [EgressDestination.cidr('198.51.100.0/24')];
  new ClusterEgressRule(stack, 'Prod', {
    device,
    name: 'prod',
    action: EgressAction.ALLOW,
    namespaceSelector: { matchLabels: { tier: 'prod' } },
    destinations: to,
  });
  new ClusterEgressRule(stack, 'Internet', {
    device,
    name: 'internet',
    action: EgressAction.ALLOW,
    podSelector: { matchLabels: { egress: 'internet' } },
    destinations: [EgressDestination.anyIpv4()],
  });
  const nsInfos: NamespaceInfo[] = [];
  const services: ServiceInfo[] = [];
  for (let i = 0; i < namespaces; i++) {
    const ns = nsName(i);
    nsInfos.push({ name: ns, labels: { 'kubernetes.io/metadata.name': ns, ...(i % 10 === 0 ? { tier: 'prod' } : {}) } });
    new NamespaceEgressRule(stack, `Ns${i}`, { device, namespace: ns, name: 'team', action: EgressAction.ALLOW, destinations: to });
    if (i < namespaces - 2)
      new ServiceEgressRule(stack, `Svc${i}`, {
        device,
        namespace: ns,
        service: 'svc-0',
        name: 'svc-0',
        action: EgressAction.ALLOW,
        destinations: to,
      });
    for (let s = 0; s < 5; s++) services.push({ namespace: ns, name: `svc-${s}`, selector: { app: `svc-${s}` } });
  }
  // The namespace exists before the deploy: it holds the login Secret the controller mounts.
  new EgressController(stack, 'Controller', {
    device,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    createNamespace: false,
  });
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
    for (const l of plan.lists)
      if (l.source.level !== 'cluster')
        this.byNamespace.set(l.source.namespace as string, [...(this.byNamespace.get(l.source.namespace as string) ?? []), l]);
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
  changes = new Map<string, Change[]>();
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
    for (let i = 0; i < this.steps.length; i++)
      if (this.steps[i].due <= now && (best < 0 || this.steps[i].due < this.steps[best].due)) best = i;
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

  /** Starts a new measurement: changes and counts from now on. */
  startRecording(): void {
    this.changes = new Map();
    this.events = 0;
    this.membershipChanges = 0;
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

/** Lags of one measurement, in milliseconds, sorted. */
interface Lags {
  readonly all: number[];
  readonly additions: number[];
  readonly removals: number[];
  /** Changes not on the device at the cutoff: counted with their lag so far (a lower bound). */
  readonly unresolved: number;
  readonly superseded: number;
  /** Change times that count, per list task id (for the lower bound). */
  readonly counted: Map<string, number[]>;
}

/**
 * For every change, the first push to its list at or after it that makes it effective.
 * Walks each list's pushes in time order with the changes pending at that moment. A change
 * followed by a newer change of the same address before either reached the device (a pod
 * replaced before its address was pushed) is superseded: it never had to reach the device. A
 * change still pending at `cutoff` counts with `cutoff − at`, less than its real lag.
 */
function lags(emulators: Emulators, changes: Map<string, Change[]>, since: number, cutoff: number): Lags {
  const all: number[] = [];
  const additions: number[] = [];
  const removals: number[] = [];
  const counted = new Map<string, number[]>();
  let superseded = 0;
  let unresolved = 0;
  const pushesOf = new Map<string, BigipNodePush[]>();
  for (const p of emulators.bigip.nodePushes({ since })) {
    if (p.at > cutoff) continue;
    let list = pushesOf.get(p.taskId);
    if (!list) pushesOf.set(p.taskId, (list = []));
    list.push(p);
  }
  const count = (taskId: string, c: Change, lag: number) => {
    all.push(lag);
    (c.add ? additions : removals).push(lag);
    let times = counted.get(taskId);
    if (!times) counted.set(taskId, (times = []));
    times.push(c.at);
  };
  for (const [taskId, list] of changes) {
    let next = 0;
    const pending = new Map<string, Change>();
    for (const push of pushesOf.get(taskId) ?? []) {
      while (next < list.length && list[next].at <= push.at) {
        const c = list[next++];
        if (pending.has(c.ip)) superseded++;
        pending.set(c.ip, c);
      }
      if (!pending.size) continue;
      const members = new Set(push.ips);
      for (const [ip, c] of pending) {
        if (members.has(ip) === c.add) {
          count(taskId, c, push.at - c.at);
          pending.delete(ip);
        }
      }
    }
    for (; next < list.length; next++) {
      const c = list[next];
      if (pending.has(c.ip)) superseded++;
      pending.set(c.ip, c);
    }
    for (const c of pending.values()) {
      count(taskId, c, cutoff - c.at);
      unresolved++;
    }
  }
  const sort = (a: number[]) => a.sort((x, y) => x - y);
  return { all: sort(all), additions: sort(additions), removals: sort(removals), unresolved, superseded, counted };
}

/**
 * A list's pod addresses on the device, sorted: an empty list holds AS3's placeholder (the
 * controller and the baseline push it for an empty set), which is no member.
 */
function deviceMembers(emulators: Emulators, taskId: string): string[] | undefined {
  return emulators.bigip
    .listMembers(taskId)
    ?.filter((a) => a !== EMPTY_LIST_PLACEHOLDER)
    .sort();
}

/**
 * The first list whose device content differs from the expected one (how many entries each
 * side has, a few missing and extra addresses), or undefined when every list is as expected.
 */
function listDifference(emulators: Emulators, plan: SyncPlan, expected: Map<string, string[]>): string | undefined {
  for (const l of plan.lists) {
    const device = deviceMembers(emulators, l.taskId) ?? [];
    const want = expected.get(l.path) as string[];
    if (device.length === want.length && device.every((m, i) => m === want[i])) continue;
    const onDevice = new Set(device);
    const wanted = new Set(want);
    const missing = want.filter((m) => !onDevice.has(m)).slice(0, 3);
    const extra = device.filter((m) => !wanted.has(m)).slice(0, 3);
    return `${l.path}: ${device.length} on the device, ${want.length} expected, missing ${missing.join(' ')}, extra ${extra.join(' ')}`;
  }
  return undefined;
}

async function waitFor(check: () => boolean, limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

// ------------------------------------------------------------------------------------ processes

function baselineCommand(): string[] {
  const js = path.join(__dirname, 'controller-baseline.js');
  if (fs.existsSync(js)) return [js];
  // Run from the TypeScript sources (npx tsx test/bench/controller.ts).
  return ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'controller-baseline.ts')];
}

/** The environment the Deployment gives the controller, pointed at the emulators. */
function baselineEnv(deployment: ControllerDeployment, emulators: Emulators, plan: SyncPlan, bigipUrl: string): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(emulators.workdir, 'baseline-'));
  fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
  fs.mkdirSync(path.join(dir, 'bigip'));
  fs.writeFileSync(path.join(dir, 'bigip', 'username'), USER, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'bigip', 'password'), PASSWORD, { mode: 0o600 });
  return {
    PATH: process.env.PATH ?? '',
    BIGIP_URL: bigipUrl,
    BIGIP_CA_FILE: emulators.caFile,
    BIGIP_CREDENTIALS_DIR: path.join(dir, 'bigip'),
    CES_PLAN_FILE: path.join(dir, 'plan.json'),
    KUBECONFIG: emulators.kubeconfigFile,
    POD_NAMESPACE: deployment.namespace,
    LEADER_ELECTION: 'false',
    // The same Node.js options as the controller's container: only the push policy differs.
    NODE_OPTIONS: deployment.env.NODE_OPTIONS ?? '',
  };
}

/** One process (controller or baseline) with its own emulators, device and churn. */
class World {
  child?: ChildProcess;
  port = 0;
  private stderr: string[] = [];

  private constructor(
    readonly mode: Mode,
    readonly emulators: Emulators,
    readonly device: DeviceModel,
    readonly plan: SyncPlan,
    readonly churn: Churn,
    private readonly deployment: ControllerDeployment,
  ) {}

  static async create(mode: Mode, workload: Workload, o: Settings, say: (line: string) => void): Promise<World> {
    const emulators = await startEmulators({
      // The push history of the last few points only (the busiest point pushes about 1.5 M
      // addresses): a longer one only grows this process's heap, and its garbage
      // collections stall the emulators the processes under test talk to.
      bigip: { users: { admin: 'admin', [USER]: PASSWORD }, historyLimit: 200_000, historyIpLimit: 6_000_000 },
      kube: { podGracefulDeletion: {}, historyLimit: 100_000 },
    });
    let device: DeviceModel | undefined;
    try {
      const kube = emulators.kube;
      kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONTROLLER_NAMESPACE } });
      kube.apply({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { namespace: CONTROLLER_NAMESPACE, name: 'bigip-login' },
        stringData: { username: USER, password: PASSWORD },
      });
      kube.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { namespace: CONTROLLER_NAMESPACE, name: 'bigip-ca' },
        data: { 'ca.crt': fs.readFileSync(emulators.caFile, 'utf8') },
      });
      for (const n of workload.namespaces)
        kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.name, labels: n.labels } });
      for (const s of workload.services)
        kube.apply({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: s.namespace, name: s.name },
          spec: { selector: s.selector, ports: [{ port: 80 }] },
        });
      // The Deployment's rollout wait needs Ready pods; the benchmark runs the controller as a
      // process of its own (below), so the pods are stand-ins that only answer their probes.
      const standIns = new WorkloadEmulator(kube, { runner: readyStandIn }).start();
      let deployed: Awaited<ReturnType<typeof deploySynthOutput>>;
      try {
        deployed = await deploySynthOutput(workload.outdir, emulators);
      } finally {
        await standIns.stop();
      }
      // The stand-ins go (their Deployment's controller is stopped, so none come back): the
      // benchmark's workload is the cluster's only pods.
      for (const p of kube.list({ apiVersion: 'v1', kind: 'Pod', namespace: CONTROLLER_NAMESPACE }))
        kube.delete(
          { apiVersion: 'v1', kind: 'Pod', namespace: CONTROLLER_NAMESPACE, name: p.metadata.name as string },
          { gracePeriodSeconds: 0 },
        );
      const deployment = deployed.controllers[0];
      const planCm = kube.get({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace: deployment.namespace,
        name: deployment.configMaps.find((c) => c.mountPath.endsWith('/plan'))!.name,
      }) as unknown as { data: Record<string, string> };
      const plan = JSON.parse(planCm.data['plan.json']) as SyncPlan;
      device = await DeviceModel.start(emulators.bigip.url);
      const churn = new Churn(emulators, new ListLookup(plan, workload), workload, seededRandom(o.seed), o.pods);
      churn.seed(o.pods);
      say(`${mode}: ${o.pods} pods, ${plan.lists.length} lists seeded`);
      return new World(mode, emulators, device, plan, churn, deployment);
    } catch (e) {
      await device?.stop();
      await emulators.stop();
      throw e;
    }
  }

  get pid(): number {
    return this.child?.pid as number;
  }

  /** Starts the process and waits for the first push of every list. */
  async spawn(): Promise<void> {
    this.stderr = [];
    const spawnedAt = Date.now();
    if (this.mode === 'controller') {
      this.port = await freePort();
      // `command: undefined`: the package's built controller, the file the init container unpacks.
      this.child = runControllerProcess({ ...this.deployment, command: undefined }, this.emulators, {
        username: USER,
        password: PASSWORD,
        podName: 'controller-0',
        httpPort: this.port,
        // No Lease: a restart between points must not wait for the old one to expire.
        env: { LOG_LEVEL: 'warn', BIGIP_URL: this.device.url, LEADER_ELECTION: 'false' },
        stdio: 'pipe',
      });
    } else {
      this.child = spawn(process.execPath, baselineCommand(), {
        env: baselineEnv(this.deployment, this.emulators, this.plan, this.device.url),
        stdio: 'pipe',
      });
    }
    const child = this.child;
    child.stdout?.resume();
    child.stderr?.on('data', (c: Buffer) => this.stderr.push(c.toString('utf8')));
    const expected = await this.expectedLists();
    // The device still holds the lists of the previous process: wait for this one's own first
    // push of every list, not only for the right content.
    const listsPushed = () => new Set(this.emulators.bigip.nodePushes({ since: spawnedAt }).map((p) => p.taskId)).size;
    const synced = await waitFor(
      () =>
        child.exitCode === null &&
        listDifference(this.emulators, this.plan, expected) === undefined &&
        listsPushed() === this.plan.lists.length,
      300_000,
    );
    if (!synced) {
      const pushed = listsPushed();
      throw new Error(
        `${this.mode}: the lists did not reach their initial content within 300 s (exit code ${child.exitCode}; ` +
          `${pushed} of ${this.plan.lists.length} lists pushed; ${listDifference(this.emulators, this.plan, expected) ?? 'every list as expected'})` +
          `${this.stderr.length ? `; stderr: ${this.stderr.join('').slice(0, 2000)}` : ''}`,
      );
    }
  }

  /**
   * A fresh process on a device that already has the point's cost (as a controller meets its
   * device); returns the resident memory once the initial list and pushes are done.
   */
  async restart(say: (line: string) => void): Promise<number> {
    await this.kill();
    const started = Date.now();
    await this.spawn();
    await sleep(1000); // let the heap settle after the initial list
    const rssMb = procStats(this.pid).rssBytes / 2 ** 20;
    say(`${this.mode}: initial list and pushes ${((Date.now() - started) / 1000).toFixed(1)} s, RSS ${rssMb.toFixed(0)} MB`);
    return rssMb;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /**
   * The lists the device must hold for the cluster as it is now (the churn is stopped), one
   * list at a time with a yield between them: the emulators and the device model share this
   * process, and working out all 200 lists at once (0.24 s at 20,000 pods) held their answers
   * back, which the controller's pacing read as a slower device.
   */
  async expectedLists(): Promise<Map<string, string[]>> {
    const snapshot = this.churn.snapshot();
    const at = new Date();
    const out = new Map<string, string[]>();
    for (const list of this.plan.lists) {
      for (const [p, members] of desiredMembers({ ...this.plan, lists: [list] }, snapshot, at)) out.set(p, members);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return out;
  }

  settled(expected: Map<string, string[]>): boolean {
    return listDifference(this.emulators, this.plan, expected) === undefined;
  }

  async stop(): Promise<void> {
    await this.kill();
    await this.device.stop();
    await this.emulators.stop();
  }
}

// ------------------------------------------------------------------------------------ one point

/**
 * BENCH_TRACE=dir: each point's membership changes and list pushes, per process, as JSON
 * (`<mode>-<events/s>x<ms>.json`: times in ms from the churn's start), for replaying a
 * scheduler offline.
 */
function writeTrace(dir: string, worlds: readonly World[], rate: number, costMs: number, t0: number, cutoff: number): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const w of worlds) {
    const changes = [...w.churn.changes].flatMap(([taskId, list]) => list.map((c) => ({ taskId, at: c.at - t0, add: c.add })));
    const pushes = w.emulators.bigip
      .nodePushes({ since: t0 })
      .filter((p) => p.at <= cutoff)
      .map((p) => ({ taskId: p.taskId, at: p.at - t0, members: p.ips.length }));
    fs.writeFileSync(path.join(dir, `${w.mode}-${rate}x${costMs}.json`), JSON.stringify({ cutoff: cutoff - t0, changes, pushes }));
  }
}

type Settings = Required<Omit<ControllerBenchOptions, 'modes' | 'eventsPerSecond' | 'deviceCostMs'>>;

async function runPoint(
  worlds: readonly World[],
  rate: number,
  costMs: number,
  o: Settings,
  say: (line: string) => void,
): Promise<GridPoint> {
  for (const w of worlds) w.device.cost = { perPushMs: costMs, perEntryMs: o.perEntryMs };
  const rssAtPods = new Map(await Promise.all(worlds.map(async (w) => [w, await w.restart(say)] as const)));
  for (const w of worlds) {
    w.device.resetCounts();
    w.churn.startRecording();
  }
  const cpuAtStart = new Map(worlds.map((w) => [w, procStats(w.pid).cpuSeconds]));
  const peak = new Map(worlds.map((w) => [w, procStats(w.pid).rssBytes]));
  const sampler = setInterval(() => {
    for (const w of worlds) {
      try {
        peak.set(w, Math.max(peak.get(w) as number, procStats(w.pid).rssBytes));
      } catch {
        // the child has exited; reported when the lists do not settle
      }
    }
  }, 500);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = Date.now();
  await Promise.all(worlds.map((w) => w.churn.run(rate, o.durationSeconds)));
  const t1 = Date.now();
  const counts = new Map(worlds.map((w) => [w, { ...w.device.counts }]));
  const busy = new Map(worlds.map((w) => [w, w.device.busyMs(t0, t1) / (t1 - t0)]));
  say(`${rate} events/s, ${costMs} ms per push: churn done; watching the lists settle`);

  // Watch until every list matches the cluster: the baseline at least as long as the
  // controller and at least the churn's duration, everyone at most observeSeconds.
  const settledAt = new Map<World, number>();
  const deadline = t1 + o.observeSeconds * 1000;
  const controller = worlds.find((w) => w.mode === 'controller');
  // The cluster no longer changes: its lists are worked out once.
  const expected = new Map<World, Map<string, string[]>>();
  for (const w of worlds) expected.set(w, await w.expectedLists());
  for (;;) {
    for (const w of worlds) if (!settledAt.has(w) && w.settled(expected.get(w) as Map<string, string[]>)) settledAt.set(w, Date.now());
    const now = Date.now();
    if (settledAt.size === worlds.length || now >= deadline) break;
    if (controller && settledAt.has(controller) && now - t1 >= o.durationSeconds * 1000) break;
    await sleep(200);
  }
  const cutoff = Date.now();
  clearInterval(sampler);
  loopDelay.disable();
  if (process.env.BENCH_TRACE) writeTrace(process.env.BENCH_TRACE, worlds, rate, costMs, t0, cutoff);

  const figures = new Map<World, ModeFigures>();
  let lowerBoundP99 = NaN;
  let lowerBoundP99At80 = NaN;
  let oldestFirstP99At80 = NaN;
  for (const w of worlds) {
    const l = lags(w.emulators, w.churn.changes, t0, cutoff);
    const c = counts.get(w) as { pushes: number; calls: number; refused: number };
    const seconds = (t1 - t0) / 1000;
    const s = (ms: number) => ms / 1000;
    figures.set(w, {
      lagP50: s(quantile(l.all, 0.5)),
      lagP99: s(quantile(l.all, 0.99)),
      removalLagP99: s(quantile(l.removals, 0.99)),
      removalLagP50: s(quantile(l.removals, 0.5)),
      additionLagP50: s(quantile(l.additions, 0.5)),
      additionLagP99: s(quantile(l.additions, 0.99)),
      callsPerSecond: c.calls / seconds,
      pushesPerSecond: c.pushes / seconds,
      deviceBusy: busy.get(w) as number,
      peakRssMb: (peak.get(w) as number) / 2 ** 20,
      rssMbAtPods: rssAtPods.get(w) as number,
      eventsPerSecond: w.churn.events / seconds,
      membershipChangesPerSecond: w.churn.membershipChanges / seconds,
      unresolved: l.unresolved,
      superseded: l.superseded,
      settledSeconds: settledAt.has(w) ? ((settledAt.get(w) as number) - t1) / 1000 : undefined,
      refused: c.refused,
      cpuSeconds: procStats(w.pid).cpuSeconds - (cpuAtStart.get(w) as number),
    });
    if (w.mode === 'controller' || !controller) {
      const lists = [...l.counted].map(([taskId, changes]) => ({
        changes,
        serviceMs: costMs + o.perEntryMs * (w.device.minEntries.get(taskId) ?? 0),
      }));
      lowerBoundP99 = lowerBoundLagMs(lists, 0.99, t1 - t0) / 1000;
      lowerBoundP99At80 = lowerBoundLagMs(lists, 0.99, t1 - t0, 1, 0.8) / 1000;
      oldestFirstP99At80 =
        quantile(
          oldestFirstLags(lists, 0.8).sort((a, b) => a - b),
          0.99,
        ) / 1000;
    }
  }

  const f = (w?: World) => (w ? figures.get(w) : undefined);
  const point = {
    eventsPerSecond: rate,
    deviceCostMs: costMs,
    perEntryMs: o.perEntryMs,
    durationSeconds: (t1 - t0) / 1000,
    controller: f(controller),
    baseline: f(worlds.find((w) => w.mode === 'baseline')),
    lowerBoundP99,
    lowerBoundP99At80,
    oldestFirstP99At80,
    benchStallMs: loopDelay.max / 1e6,
  };
  say(
    `${rate} events/s, ${costMs} ms per push: p99 controller ${fmtS(point.controller?.lagP99)}, baseline ${fmtS(point.baseline?.lagP99)}, bound ${fmtS(lowerBoundP99)}`,
  );
  return point;
}

// ------------------------------------------------------------------------------------ report

const fmt = (x: number | undefined, digits = 0) =>
  x !== undefined && Number.isFinite(x) ? x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
const fmtS = (s: number | undefined) => (s !== undefined && Number.isFinite(s) ? `${s.toFixed(s < 10 ? 2 : 1)} s` : 'n/a');
const pct = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? `${Math.round(100 * x)} %` : 'n/a');

function rowsFor(result: ControllerBenchResult, o: Settings): string[] {
  const lag = (m: ModeFigures | undefined, p50: (m: ModeFigures) => number, p99: (m: ModeFigures) => number) =>
    m ? `${fmtS(p50(m))} / ${fmtS(p99(m))}` : '(not run)';
  const censored = (m: ModeFigures | undefined) => (m && m.unresolved ? '*' : '');
  const rows = [
    `${fmt(result.pods)} pods, ${result.lists} source lists; ${fmt(o.durationSeconds)} s of pod replacements per point (create, address, Ready, terminating, gone); ` +
      `device: one control plane, one push at a time, each costing the given ms plus ${o.perEntryMs * 1000} µs per address in the list. ` +
      'Both processes run at the same time, each against its own emulators and device.',
    '',
    '| pod events/s | ms per push | lag p50 / p99, controller | baseline | additions p50 / p99, controller | baseline | removals p50 / p99, controller | baseline | lower bound of p99: any scheduler / at most 80 % busy | controller ÷ bounds | ideal oldest-first at 80 % busy: p99, controller ÷ it |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of result.grid) {
    const c = p.controller;
    const b = p.baseline;
    rows.push(
      `| ${p.eventsPerSecond} | ${p.deviceCostMs} | ${lag(
        c,
        (m) => m.lagP50,
        (m) => m.lagP99,
      )}${censored(c)} | ${lag(
        b,
        (m) => m.lagP50,
        (m) => m.lagP99,
      )}${censored(b)} | ` +
        `${lag(
          c,
          (m) => m.additionLagP50,
          (m) => m.additionLagP99,
        )} | ${lag(
          b,
          (m) => m.additionLagP50,
          (m) => m.additionLagP99,
        )} | ` +
        `${lag(
          c,
          (m) => m.removalLagP50,
          (m) => m.removalLagP99,
        )} | ${lag(
          b,
          (m) => m.removalLagP50,
          (m) => m.removalLagP99,
        )} | ` +
        `${fmtS(p.lowerBoundP99)} / ${fmtS(p.lowerBoundP99At80)} | ${c ? `${fmt(c.lagP99 / p.lowerBoundP99, 1)} / ${fmt(c.lagP99 / p.lowerBoundP99At80, 1)}` : 'n/a'} | ` +
        `${fmtS(p.oldestFirstP99At80)}, ${c ? fmt(c.lagP99 / p.oldestFirstP99At80, 1) : 'n/a'} |`,
    );
  }
  rows.push(
    '',
    '| pod events/s | ms per push | BIG-IP calls/s, controller | baseline | device busy, controller | baseline | settled after the churn, controller | baseline | peak RSS, controller | baseline | CPU, controller | baseline | longest stall of the emulator process |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const settled = (m: ModeFigures | undefined) =>
    !m ? 'n/a' : m.settledSeconds !== undefined ? fmtS(m.settledSeconds) : `no (${fmt(m.unresolved)} changes pending)`;
  const cpu = (m: ModeFigures | undefined, seconds: number) =>
    m ? `${fmt(m.cpuSeconds, 1)} s` + ` (${fmt((100 * m.cpuSeconds) / seconds)} % of the churn)` : 'n/a';
  for (const p of result.grid) {
    const c = p.controller;
    const b = p.baseline;
    rows.push(
      `| ${p.eventsPerSecond} | ${p.deviceCostMs} | ${fmt(c?.callsPerSecond, 1)} | ${fmt(b?.callsPerSecond, 1)} | ${pct(c?.deviceBusy)} | ${pct(b?.deviceBusy)} | ` +
        `${settled(c)} | ${settled(b)} | ${fmt(c?.peakRssMb)} MB | ${fmt(b?.peakRssMb)} MB | ${cpu(c, p.durationSeconds)} | ${cpu(b, p.durationSeconds)} | ${fmt(p.benchStallMs)} ms |`,
    );
  }
  rows.push(
    '',
    `RSS at ${fmt(result.pods)} pods after the initial sync, most over the points: controller ${fmt(Math.max(...result.grid.map((p) => p.controller?.rssMbAtPods ?? NaN)))} MB, ` +
      `baseline ${fmt(Math.max(...result.grid.map((p) => p.baseline?.rssMbAtPods ?? NaN)))} MB.` +
      (result.selfReported
        ? ` Controller's own /metrics at the end: RSS ${fmt(result.selfReported.rssMb)} MB, CPU ${fmt(result.selfReported.cpuSeconds, 1)} s since start, ${fmt(result.selfReported.pods)} pods cached.`
        : ''),
    ...(result.grid.some((p) => p.controller?.unresolved || p.baseline?.unresolved)
      ? ['* some changes were not on the device when the watch ended; they count with their lag so far, so the real p99 is higher.']
      : []),
    "Lower bounds: the p99 lag no scheduler can beat on this device for the controller's changes at that point (each change needs a push of its list that starts after it; the pushes share one control plane; lower-bound.ts), " +
      'with the whole device, and with the device busy at most 80 % of the time (the busy target).',
    "Ideal oldest-first: the controller's order (oldest pending change first) replayed offline on the same changes with exact pacing at 80 % busy, no coalescing wait and no answer latency; " +
      'the controller over it is what the implementation loses, it over the bound what the bound leaves out.',
    '',
    ...floors(result),
  );
  return rows;
}

/** The targets, point by point. */
function floors(result: ControllerBenchResult): string[] {
  const out: string[] = [];
  const check = (ok: boolean, text: string) => out.push(`- ${ok ? 'met' : 'NOT met'}: ${text}`);
  for (const p of result.grid) {
    const c = p.controller;
    const b = p.baseline;
    if (!c) continue;
    const at = `${p.eventsPerSecond} events/s, ${p.deviceCostMs} ms`;
    if (b) check(c.lagP99 <= b.lagP99 + 0.3, `${at}: p99 ${fmtS(c.lagP99)} ≤ baseline ${fmtS(b.lagP99)} + 0.3 s`);
    check(c.deviceBusy <= 0.8, `${at}: device busy ${pct(c.deviceBusy)} ≤ 80 %`);
    if (p.eventsPerSecond === 50 && p.deviceCostMs === 20) {
      check(c.lagP99 <= 1, `${at}: p99 ${fmtS(c.lagP99)} ≤ 1 s`);
      check(c.removalLagP99 <= 0.5, `${at}: removals p99 ${fmtS(c.removalLagP99)} ≤ 0.5 s`);
    }
    if (b && b.deviceBusy >= 0.95) {
      check(
        c.lagP99 <= 2 * p.lowerBoundP99,
        `${at} (baseline saturates the device): p99 ${fmtS(c.lagP99)} ≤ 2 × bound ${fmtS(p.lowerBoundP99)} (2 × the bound at 80 % busy: ${fmtS(2 * p.lowerBoundP99At80)})`,
      );
    }
  }
  const peak = Math.max(...result.grid.map((p) => p.controller?.peakRssMb ?? 0));
  if (result.grid.some((p) => p.controller)) check(peak <= 150, `peak RSS ${fmt(peak)} MB ≤ 150 MB`);
  return ['Targets (controller):', ...out];
}

/** Grid points of BENCH_GRID ("50x20,500x1": events/s x ms per push), if set. */
function gridFromEnv(): [number, number][] | undefined {
  const spec = process.env.BENCH_GRID;
  if (!spec) return undefined;
  return spec.split(',').map((p) => {
    const m = /^\s*(\d+)x(\d+)\s*$/.exec(p);
    if (!m) throw new Error(`BENCH_GRID: "${p}" is not <events/s>x<ms per push>, such as 50x20`);
    return [Number(m[1]), Number(m[2])] as [number, number];
  });
}

export async function runControllerBench(options: ControllerBenchOptions = {}): Promise<{ rows: string[]; result: ControllerBenchResult }> {
  const o: Settings = {
    pods: options.pods ?? 20_000,
    namespaces: options.namespaces ?? 100,
    perEntryMs: options.perEntryMs ?? 0.005,
    durationSeconds: options.durationSeconds ?? Number(process.env.BENCH_CONTROLLER_SECONDS ?? 15),
    observeSeconds: options.observeSeconds ?? 30,
    seed: options.seed ?? 7,
    progress: options.progress ?? true,
  };
  const rates = options.eventsPerSecond ?? [50, 200, 500];
  const costs = options.deviceCostMs ?? [1, 20, 100];
  const points = gridFromEnv() ?? costs.flatMap((cost) => rates.map((rate) => [rate, cost] as [number, number]));
  const modes = options.modes ?? ['controller', 'baseline'];
  const say = (line: string) => {
    if (o.progress) process.stderr.write(`[bench controller] ${line}\n`);
  };
  const workload = synthWorkload(o.namespaces);
  const worlds: World[] = [];
  try {
    for (const mode of modes) worlds.push(await World.create(mode, workload, o, say));
    const grid: GridPoint[] = [];
    for (const [rate, cost] of points) grid.push(await runPoint(worlds, rate, cost, o, say));
    const controller = worlds.find((w) => w.mode === 'controller');
    let selfReported: ControllerBenchResult['selfReported'];
    if (controller) {
      const text = await httpGet(controller.port, '/metrics');
      selfReported = {
        rssMb: (metric(text, 'cdktf_ces_process_resident_memory_bytes') ?? NaN) / 2 ** 20,
        cpuSeconds: metric(text, 'cdktf_ces_process_cpu_seconds_total') ?? NaN,
        pods: metric(text, 'cdktf_ces_pods') ?? NaN,
      };
    }
    const result: ControllerBenchResult = {
      pods: o.pods,
      lists: worlds[0]?.plan.lists.length ?? 0,
      grid,
      selfReported,
    };
    return { rows: rowsFor(result, o), result };
  } finally {
    for (const w of worlds) await w.stop();
    fs.rmSync(workload.outdir, { recursive: true, force: true });
  }
}

/** The grid as BENCH_JSON asks for it: one object per point, lags in seconds. */
export function gridJson(result: ControllerBenchResult): unknown[] {
  return result.grid.map((p) => ({
    eventsPerSecond: p.eventsPerSecond,
    deviceCostMs: p.deviceCostMs,
    perEntryMs: p.perEntryMs,
    durationSeconds: p.durationSeconds,
    controller: p.controller,
    baseline: p.baseline,
    lowerBoundP99: p.lowerBoundP99,
    lowerBoundP99At80: p.lowerBoundP99At80,
    oldestFirstP99At80: p.oldestFirstP99At80,
    benchStallMs: p.benchStallMs,
  }));
}

if (require.main === module) {
  const modes = process.argv[2] ? (process.argv[2].split(',') as Mode[]) : undefined;
  runControllerBench({ modes }).then(
    ({ rows, result }) => {
      process.stdout.write(`${rows.join('\n')}\n`);
      if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(gridJson(result), null, 2));
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`controller bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
