/**
 * The per-event baseline of the controller benchmark, run as its own process (so its memory
 * and CPU are its own), configured from the same environment as the controller.
 *
 * It uses the controller's informers, object transforms, membership index and BIG-IP client;
 * only the push policy differs. Like the upstream CES controller, every pod event at once
 * pushes, one after another, each list the pod is a source of (before or after the event, by
 * the rules' selectors), with the list's full membership at push time: no coalescing, no
 * skipping of unchanged lists, no rate limit, no removal priority. Pushes queue up in event
 * order when the device cannot keep up. Nothing is pushed before every informer has listed,
 * then every list is pushed once, as the controller does.
 */
import { BigipClient } from '../../lib/clients/bigip';
import { loadConfig } from '../../lib/controller/config';
import { KubeClient } from '../../lib/clients/kube/client';
import { loadConnection } from '../../lib/clients/kube/config';
import { ADD, DELETE, Informer, UPDATE } from '../../lib/controller/kube/informer';
import { NAMESPACES, PODS, SERVICES } from '../../lib/clients/kube/resources';
import { namespaceInfo, podInfo, serviceInfo } from '../../lib/controller/main';
import { MembershipIndex } from '../../lib/controller/sync/membership-index';
import { NamespaceInfo, PodInfo, ServiceInfo, sourceIncludesPod } from '../../lib/policy/membership';
import type { PlanList } from '../../lib/policy/plan';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const plan = config.plan;
  const bigip = new BigipClient({
    url: config.bigip.url,
    username: config.bigip.username,
    password: config.bigip.password,
    caBundle: config.bigip.caBundle,
    insecureSkipTlsVerify: config.bigip.insecureSkipTlsVerify,
    logger: {
      debug() {},
      info() {},
      warn() {},
      error: (m, f) => process.stderr.write(`${JSON.stringify({ level: 'error', msg: m, ...f })}\n`),
    },
  });
  const kube = new KubeClient(loadConnection({ kubeconfig: config.kubeconfig }));
  // The pod informer's cache is the index's pod store (declared below, read only once events flow).
  const index = new MembershipIndex(plan, { get: (key) => pods.get(key), keysInNamespace: (ns) => pods.keysInNamespace(ns) });
  const lists = new Map(plan.lists.map((l) => [l.path, l]));
  const clusterLists = plan.lists.filter((l) => l.source.level === 'cluster');
  const namespaceLists = new Map<string, PlanList[]>();
  for (const l of plan.lists)
    if (l.source.level !== 'cluster')
      namespaceLists.set(l.source.namespace as string, [...(namespaceLists.get(l.source.namespace as string) ?? []), l]);
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  const services = new Map<string, ServiceInfo>();

  // The push queue: one entry per (event, list), pushed in order, one at a time.
  const queue: string[] = [];
  let head = 0;
  let pushing = false;
  let synced = false;
  let pushes = 0;
  let failures = 0;
  const drain = async () => {
    if (pushing) return;
    pushing = true;
    try {
      while (head < queue.length) {
        const path = queue[head++];
        if (head > 65536 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        const list = lists.get(path) as PlanList;
        try {
          await bigip.replaceListMembers(list.taskId, index.desired(path), plan.routeDomain);
          pushes++;
        } catch (e) {
          failures++;
          process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'push failed', list: path, error: (e as Error).message })}\n`);
        }
      }
    } finally {
      pushing = false;
    }
  };
  const enqueue = (paths: Iterable<string>) => {
    if (!synced) return;
    for (const p of paths) queue.push(p);
    void drain();
  };
  /** Lists whose selectors take this pod (eligible or not). */
  const listsOf = (pod: PodInfo, into: Set<string>) => {
    const labels = nsLabels.get(pod.namespace);
    for (const l of clusterLists) if (sourceIncludesPod(l.source, pod, labels, undefined)) into.add(l.path);
    for (const l of namespaceLists.get(pod.namespace) ?? []) {
      const service = l.source.level === 'service' ? services.get(`${pod.namespace}/${l.source.service}`) : undefined;
      if (sourceIncludesPod(l.source, pod, labels, service)) into.add(l.path);
    }
  };
  const podEvent = (before: PodInfo | undefined, after: PodInfo | undefined) => {
    const affected = new Set<string>();
    if (before) listsOf(before, affected);
    if (after) listsOf(after, affected);
    const changes = after ? index.upsertPod(after) : index.deletePod(before!.namespace, before!.name);
    for (const p of changes.keys()) affected.add(p);
    enqueue(affected);
  };

  const pods = new Informer(kube, { resource: PODS, transform: podInfo });
  pods
    .on(ADD, (p) => podEvent(undefined, p))
    .on(UPDATE, (o, n) => podEvent(o, n))
    .on(DELETE, (p) => podEvent(p, undefined));
  const namespaces = new Informer(kube, { resource: NAMESPACES, transform: namespaceInfo });
  const nsEvent = (n: NamespaceInfo, removed: boolean) => {
    if (removed) nsLabels.delete(n.name);
    else nsLabels.set(n.name, n.labels);
    enqueue((removed ? index.deleteNamespace(n.name) : index.upsertNamespace(n.name, n.labels)).keys());
  };
  namespaces
    .on(ADD, (n) => nsEvent(n, false))
    .on(UPDATE, (_o, n) => nsEvent(n, false))
    .on(DELETE, (n) => nsEvent(n, true));
  const svcs = new Informer(kube, { resource: SERVICES, transform: serviceInfo });
  const svcEvent = (s: ServiceInfo, removed: boolean) => {
    const key = `${s.namespace}/${s.name}`;
    if (removed) services.delete(key);
    else services.set(key, s);
    enqueue((removed ? index.deleteService(s.namespace, s.name) : index.upsertService(s)).keys());
  };
  svcs
    .on(ADD, (s) => svcEvent(s, false))
    .on(UPDATE, (_o, s) => svcEvent(s, false))
    .on(DELETE, (s) => svcEvent(s, true));
  const informers = [pods, namespaces, svcs] as Informer<unknown>[];
  for (const i of informers) i.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
  synced = true;
  enqueue(lists.keys());
  process.stdout.write(`${JSON.stringify({ msg: 'baseline synced', pods: pods.size, lists: lists.size })}\n`);

  const report = setInterval(
    () => process.stdout.write(`${JSON.stringify({ msg: 'baseline progress', pushes, failures, queued: queue.length - head })}\n`),
    5000,
  );
  report.unref();
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    void Promise.all(informers.map((i) => i.stop()))
      .then(() => bigip.close())
      .then(() => kube.close())
      .then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`controller-baseline: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
