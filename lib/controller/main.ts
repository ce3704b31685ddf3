/**
 * The cdktf-ces controller: keeps the BIG-IP's source lists equal to the pods the rules
 * select, in the shape of a controller-runtime controller.
 *
 * - Informers list then watch pods, namespaces, services and the rule CRs; their caches are the
 *   controller's only copy of the cluster.
 * - Event handlers update the membership index (derived from the caches) and add the keys of the
 *   touched source lists to the workqueue (`ListWorkqueue`): coalescing, removals first, paced by
 *   the device (AIMD), failed pushes requeued with backoff (rate-limited requeue).
 * - The reconciler (`ListReconciler`) pushes a list's full desired membership to the AS3
 *   service-discovery endpoint; a time-gated list is requeued at its next window edge or expiry
 *   (`Result{RequeueAfter}`).
 * - Nothing is pushed before every informer has listed (fail closed), and only the replica
 *   holding the Lease pushes and writes CR status; the standby keeps its caches warm.
 */
import type * as http from 'node:http';
import { BigipApiError, BigipClient } from '../clients/bigip';
import { Gauge, Registry } from 'prom-client';
import { ConfigError, ControllerConfig, ObjectReference, ReadResult, loadConfig, resolveReferences } from './config';
import { KubeApiError, KubeClient } from '../clients/kube/client';
import { KubeConfigError, loadConnection } from '../clients/kube/config';
import { ADD, DELETE, ERROR, Informer, UPDATE } from './kube/informer';
import { LeaderElector } from './kube/leader';
import { KubeObject, NAMESPACES, PODS, ResourceType, SERVICES, egressResource } from '../clients/kube/resources';
import { Logger, jsonLogger } from './log';
import { DeviceChecker } from './device-check';
import { FlowLogIntake } from './flow-logs';
import { systemClock } from '../clients/clock';
import { ControllerMetrics } from './metrics';
import { startHttpServer } from './server';
import { RuleObject, StatusReporter } from './status';
import { ListReconciler } from './sync/list-reconciler';
import type { NamespaceInfo, PodInfo, ServiceInfo } from '../policy/membership';
import type { PlanRule } from '../policy/plan';
import { ruleSpecDigest } from '../policy/plan';
import { bigipDeviceReader } from '../verify/reader';
import { HaPair, haDeviceReader, haUnits } from './ha';

type RuleKindName = PlanRule['kind'];

interface PodObject extends KubeObject {
  spec?: { hostNetwork?: boolean; nodeName?: string };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

/** The few fields of a pod the controller keeps (20,000 pods fit in a few MB). */
export function podInfo(obj: KubeObject): PodInfo {
  const pod = obj as PodObject;
  const ips = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  return {
    namespace: pod.metadata.namespace as string,
    name: pod.metadata.name as string,
    labels: pod.metadata.labels ?? {},
    ips,
    phase: pod.status?.phase,
    terminating: !!pod.metadata.deletionTimestamp,
    hostNetwork: pod.spec?.hostNetwork === true,
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
  };
}

export function namespaceInfo(obj: KubeObject): NamespaceInfo {
  return { name: obj.metadata.name as string, labels: obj.metadata.labels ?? {} };
}

export function serviceInfo(obj: KubeObject): ServiceInfo {
  const spec = (obj as KubeObject & { spec?: { selector?: Record<string, string> } }).spec;
  return { namespace: obj.metadata.namespace as string, name: obj.metadata.name as string, selector: spec?.selector };
}

export interface RunningController {
  readonly reconciler: ListReconciler;
  readonly metrics: ControllerMetrics;
  readonly server: http.Server;
  /** The flow-log intake, when the controller receives flow logs. */
  readonly flowLogs?: FlowLogIntake;
  /** Whether this replica pushes (leads, or runs without leader election). */
  isLeading(): boolean;
  /** Graceful stop: releases the Lease, finishes the push in flight, deletes the BIG-IP token. */
  stop(): Promise<void>;
}

/** Starts the controller; resolves once its HTTP endpoints listen. */
export async function runController(config: ControllerConfig, log: Logger): Promise<RunningController> {
  const { plan } = config;
  const metrics = new ControllerMetrics();
  const bigip = new BigipClient({
    url: config.bigip.url,
    username: config.bigip.username,
    password: config.bigip.password,
    caBundle: config.bigip.caBundle,
    insecureSkipTlsVerify: config.bigip.insecureSkipTlsVerify,
    logger: log.child({ component: 'bigip' }),
  });
  const kube = new KubeClient(loadConnection({ kubeconfig: config.kubeconfig }));

  // A BIG-IP pair: lists go to the active unit only; a change of active unit resyncs every list.
  const units = config.ha ? haUnits(config, bigip, log) : undefined;
  const pair = units
    ? new HaPair({
        units,
        pollIntervalMs: config.ha?.pollIntervalMs,
        settleTimeoutMs: config.ha?.settleTimeoutMs,
        onSwitched: () => reconciler.repush(plan.lists.map((l) => l.path)),
        log: log.child({ component: 'ha' }),
        registry: metrics.registry,
      })
    : undefined;

  const informers: Informer<unknown>[] = [];
  // Reconnect quickly: a change missed while a watch is down reaches the lists that much later.
  const backoff = { initialMs: 250, maxMs: 2000 };
  const informer = <T>(resource: ResourceType, name: string, transform: (o: KubeObject) => T): Informer<T> => {
    const i = new Informer(kube, { resource, transform, backoff });
    i.on(ERROR, (e) => {
      metrics.watchRestarts.inc({ resource: name });
      log.warn('watch interrupted; resuming', { resource: name, error: e instanceof Error ? e.message : String(e) });
    });
    informers.push(i as Informer<unknown>);
    return i;
  };
  // The informer caches are the controller's only copy of the cluster.
  const pods = informer(PODS, 'pods', podInfo);
  const namespaces = informer(NAMESPACES, 'namespaces', namespaceInfo);
  const services = informer(SERVICES, 'services', serviceInfo);
  const rules = new Map<string, Informer<RuleObject>>();
  for (const kind of ['ClusterEgressRule', 'NamespaceEgressRule', 'ServiceEgressRule'] as RuleKindName[]) {
    const toRule = (o: KubeObject): RuleObject => ({
      kind,
      namespace: o.metadata.namespace,
      name: o.metadata.name as string,
      uid: o.metadata.uid,
      generation: o.metadata.generation,
      specDigest: ruleSpecDigest((o as KubeObject & { spec?: unknown }).spec),
    });
    rules.set(kind, informer(egressResource(kind), kind, toRule));
  }
  const synced = () => informers.every((i) => i.hasSynced());

  // The reconciler of the source lists, with its workqueue.
  const reconciler = new ListReconciler({
    plan,
    pods,
    target: pair ?? bigip,
    coalesceMs: config.coalesceMs,
    maxPushesInFlight: config.maxPushesInFlight,
    maxDeviceBusyPercent: config.maxDeviceBusyPercent,
    maxPushesPerSecond: config.maxPushesPerSecond,
    // Credentials are device-wide, not a property of one list: a 401 that outlived the
    // client's re-login is retried with the normal backoff (and shown in status), so every list
    // recovers as soon as the device accepts the login again.
    isTerminal: (e) => e instanceof BigipApiError && e.terminal && e.reason !== 'Unauthorized' && e.reason !== 'TokenLimit',
    onOutcome: (o) => {
      if (!o.ok) {
        metrics.pushes.inc({ result: 'error' });
        metrics.pushErrors.inc({ reason: o.error instanceof BigipApiError ? o.error.reason : 'Unknown' });
        log.warn('push failed', {
          list: o.path,
          error: o.error instanceof Error ? o.error.message : String(o.error),
          terminal: o.terminal,
        });
        return;
      }
      metrics.pushes.inc({ result: o.pushed ? 'ok' : 'unchanged' });
      metrics.syncLag.observe((o.finishedAt - o.dirtySince) / 1000);
      metrics.members.set({ list: o.path }, o.members);
    },
  });
  metrics.bindPacing(() => reconciler.pacing);

  const deviceCheck = new DeviceChecker({
    plan,
    reader: pair ? haDeviceReader(pair) : bigipDeviceReader(bigip),
    target: reconciler,
    logins: () => (units ? units.reduce((n, u) => n + u.client.stats().logins, 0) : bigip.stats().logins),
    intervalMs: config.deviceCheckIntervalMs,
    log: log.child({ component: 'device-check' }),
    registry: metrics.registry,
  });

  const status = new StatusReporter({
    deviceCheck: () => deviceCheck.result,
    plan,
    listState: (p) => reconciler.listState(p),
    ruleObject: (r) => rules.get(r.kind)?.getByName(r.name, r.namespace),
    synced,
    log: log.child({ component: 'status' }),
    writer: {
      patchStatus: async (rule, s) => {
        await kube.mergePatchStatus(egressResource(rule.kind), rule.name, { status: s }, rule.namespace);
      },
    },
  });

  // Event handlers only update the index and mark the touched lists for the workqueue.
  const handle = <T>(i: Informer<T>, upsert: (x: T) => void, remove: (x: T) => void) =>
    i
      .on(ADD, upsert)
      .on(UPDATE, (_old, next) => upsert(next))
      .on(DELETE, remove);
  handle(
    pods,
    (p) => reconciler.upsertPod(p),
    (p) => reconciler.deletePod(p.namespace, p.name),
  );
  handle(
    namespaces,
    (n) => reconciler.upsertNamespace(n),
    (n) => reconciler.deleteNamespace(n.name),
  );
  handle(
    services,
    (x) => reconciler.upsertService(x),
    (x) => reconciler.deleteService(x.namespace, x.name),
  );
  // Flow-log intake: every replica receives; the address history follows the same caches.
  let flowLogs: FlowLogIntake | undefined;
  if (config.flowLogPort !== undefined) {
    const inNamespace = <T>(i: Informer<T>) =>
      function* (namespace: string): Iterable<T> {
        for (const key of i.keysInNamespace(namespace)) {
          const value = i.get(key);
          if (value !== undefined) yield value;
        }
      };
    const intake = new FlowLogIntake({
      plan,
      port: config.flowLogPort,
      queueLimit: config.flowLogQueueLimit,
      registry: metrics.registry,
      clock: systemClock,
      podsInNamespace: inNamespace(pods),
      servicesInNamespace: inNamespace(services),
    });
    handle(
      pods,
      (p) => intake.podChanged(p),
      (p) => intake.podDeleted(p.namespace, p.name),
    );
    handle(
      services,
      (x) => intake.serviceChanged(x.namespace),
      (x) => intake.serviceChanged(x.namespace),
    );
    const ports = await intake.listen();
    if (!plan.rules.some((r) => r.attribution))
      log.warn(
        'the plan carries no rule attribution: flow records will not name their rules; redeploy with flowLogs on the EgressController',
      );
    log.info('receiving flow logs', { tcpPort: ports.tcpPort, udpPort: ports.udpPort });
    flowLogs = intake;
  }
  // A rule CR seen with the plan's spec is the generation the firewall enforces (standbys note it too).
  for (const i of rules.values())
    handle(
      i,
      (r) => status.observe(r),
      () => undefined,
    );

  let live = true;
  let leading = false;
  const server = await startHttpServer(config.httpPort, metrics.registry, {
    live: () => live,
    ready: () => ({
      ready: synced() && (!pair || pair.state.ready),
      detail: {
        leader: leading,
        pods: pods.size,
        pendingLists: reconciler.pendingLists,
        gatedLists: reconciler.gatedLists,
        ...(pair ? { ha: pair.state } : {}),
      },
    }),
  });

  metrics.bindState(() => ({ gatedLists: reconciler.gatedLists, pendingLists: reconciler.pendingLists, leading, pods: pods.size }));

  for (const i of informers) i.start();
  pair?.start();
  const syncedPromise = Promise.all(informers.map((i) => i.waitForSync())).then(() =>
    log.info('caches listed', { pods: pods.size, lists: plan.lists.length }),
  );

  const lead = async (signal?: AbortSignal) => {
    // Nothing is pushed before every list is complete: a partial view would remove members.
    await syncedPromise;
    if (signal?.aborted) return;
    leading = true;
    log.info('leading: pushing source lists', { lists: plan.lists.length });
    reconciler.activate();
    status.start();
    deviceCheck.start();
  };
  const follow = async () => {
    leading = false;
    // No new push starts from here on; the push in flight and the status writer wind down together.
    await Promise.all([reconciler.deactivate(), status.stop(), deviceCheck.stop()]);
  };

  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector({
      client: kube,
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: config.identity,
      onStartedLeading: (signal) => lead(signal),
      // The elector releases (or contests) the Lease only after this: the push in flight ends
      // first, so the next leader's pushes always come after this replica's last one.
      onStoppedLeading: async () => {
        await follow();
        log.info('stopped leading');
      },
      onNewLeader: (identity) => log.info('leader', { identity }),
      onError: (e) => log.warn('lease update failed', { error: e instanceof Error ? e.message : String(e) }),
    });
    elector.start();
  } else {
    void lead();
  }

  return {
    reconciler,
    metrics,
    server,
    flowLogs,
    isLeading: () => leading,
    stop: async () => {
      live = false;
      if (elector) await elector.stop({ release: true });
      await follow();
      await pair?.stop();
      await Promise.all((units ?? []).slice(1).map((u) => u.client.close()));
      await Promise.all(informers.map((i) => i.stop()));
      await flowLogs?.close();
      await bigip.close();
      kube.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Until the BIG-IP login (and CA bundle) it reads through the API are there: live, not ready,
 * `cdktf_ces_waiting_for_configuration` 1, and one log line each time what is missing changes.
 * Reading them through the API rather than a volume lets the pod start without them; a
 * Secret volume would hold it in ContainerCreating with nothing in its logs.
 */
async function waitForReferences(config: ControllerConfig, log: Logger): Promise<ControllerConfig> {
  const kube = new KubeClient(loadConnection({ kubeconfig: config.kubeconfig }));
  const registry = new Registry();
  const waiting = new Gauge({
    name: 'cdktf_ces_waiting_for_configuration',
    help: '1 while the controller waits for the BIG-IP login or CA bundle it reads from the cluster',
    registers: [registry],
  });
  let missing = 'not read yet';
  const server = await startHttpServer(config.httpPort, registry, {
    live: () => true,
    ready: () => ({ ready: false, detail: { waitingFor: missing } }),
  });
  const read = async (kind: 'Secret' | 'ConfigMap', ref: ObjectReference): Promise<ReadResult> => {
    const type = { group: '', version: 'v1', plural: kind === 'Secret' ? 'secrets' : 'configmaps', kind, namespaced: true };
    try {
      const obj = (await kube.get(type, ref.name, ref.namespace, { timeoutMs: 10_000 })) as { data?: Record<string, string> };
      const data = obj.data ?? {};
      return {
        data:
          kind === 'Secret'
            ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
            : data,
      };
    } catch (e) {
      if (e instanceof KubeApiError && e.notFound) return { problem: 'not found' };
      if (e instanceof KubeApiError && e.statusCode === 403)
        return { problem: `not readable (403 Forbidden): the controller's Role must allow get on it` };
      return { problem: `cannot be read (${e instanceof Error ? e.message : String(e)})` };
    }
  };
  try {
    for (let delayMs = 1000; ; delayMs = Math.min(delayMs * 2, 30_000)) {
      const r = await resolveReferences(config, read);
      if ('config' in r) {
        log.info('configuration read from the cluster');
        return r.config;
      }
      waiting.set(1);
      if (r.missing !== missing) log.warn('waiting for configuration', { missing: r.missing });
      missing = r.missing;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  } finally {
    await kube.close();
    // close() waits for open connections to end, and a prober's keep-alive connection may never
    // end: drop them, so the controller's own server can take the port next.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

/** Entry point: configuration errors end the process with one line, never a stack trace. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ControllerConfig;
  try {
    config = loadConfig(env);
    loadConnection({ kubeconfig: config.kubeconfig });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof KubeConfigError) {
      process.stderr.write(`cdktf-ces-controller: configuration error: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const log = jsonLogger(config.logLevel, { cluster: config.plan.cluster });
  if (config.bigip.insecureSkipTlsVerify)
    log.warn(
      'BIG-IP TLS verification is OFF (BIGIP_INSECURE_SKIP_TLS_VERIFY=true): the password and token can be read by anyone on the path',
    );
  let controller: RunningController | undefined = undefined;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // Still waiting for its configuration: no Lease, no token, nothing to release.
    if (!controller) process.exit(0);
    controller.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error('shutdown failed', { error: e instanceof Error ? e.message : String(e) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (config.references) config = await waitForReferences(config, log);
  controller = await runController(config, log);
  log.info('started', {
    identity: config.identity,
    lists: config.plan.lists.length,
    rules: config.plan.rules.length,
    port: config.httpPort,
  });
}
