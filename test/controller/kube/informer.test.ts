/**
 * Informer against the emulated API server: initial sync, events, re-list on 410 with
 * synthetic deletes, reconnects after dropped watches and restarts, bookmarks, transform; and
 * against a scripted client, malformed objects.
 */
import { fullJitterDelay } from '../../../lib/clients/backoff';
import type { KubeClient } from '../../../lib/clients/kube/client';
import { ADD, DELETE, ERROR, Informer, InformerOptions, MalformedObjectError, UPDATE } from '../../../lib/controller/kube/informer';
import { KubeObject, PODS, WatchEvent, egressResource } from '../../../lib/clients/kube/resources';
import { podInfo } from '../../../lib/controller/main';
import { MembershipIndex } from '../../../lib/controller/sync/membership-index';
import { PLAN_FORMAT, SyncPlan } from '../../../lib/policy/plan';
import { ALL_KINDS, customResourceDefinition } from '../../../lib/k8s/crds';
import { KubeApiEmulatorOptions } from '../../emulators/kube/emulator';
import { Harness, eventually, namespace, pod, quickClock, startHarness } from './helpers';

interface PodRecord {
  readonly name: string;
  readonly ip?: string;
}

const toRecord = (obj: KubeObject): PodRecord => ({
  name: obj.metadata.name ?? '',
  ip: (obj.status as { podIP?: string } | undefined)?.podIP,
});

/** The emulator's pods as key → IP, to compare with the informer cache. */
function serverPods(h: Harness): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const p of h.emulator.list({ apiVersion: 'v1', kind: 'Pod' }))
    out.set(`${p.metadata.namespace}/${p.metadata.name}`, (p.status as { podIP?: string } | undefined)?.podIP);
  return out;
}

function cachePods(inf: Informer<PodRecord>): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const key of inf.keys()) out.set(key, inf.get(key)?.ip);
  return out;
}

/** Records callbacks as a log and as a replayed map, which must equal the cache. */
function record(inf: Informer<PodRecord>) {
  const log: string[] = [];
  const replay = new Map<string, string | undefined>();
  const errors: unknown[] = [];
  inf.on(ADD, (o) => {
    log.push(`add ${o.name}`);
    replay.set(`default/${o.name}`, o.ip);
  });
  inf.on(UPDATE, (_old, o) => {
    log.push(`update ${o.name}`);
    replay.set(`default/${o.name}`, o.ip);
  });
  inf.on(DELETE, (o) => {
    log.push(`delete ${o.name}`);
    replay.delete(`default/${o.name}`);
  });
  inf.on(ERROR, (e) => errors.push(e));
  return { log, replay, errors };
}

describe('Informer', () => {
  let h: Harness;
  let informers: Informer<unknown>[] = [];

  async function setup(options: KubeApiEmulatorOptions = {}): Promise<void> {
    h = await startHarness({ bookmarkIntervalMs: 0, namespaces: ['default'], ...options });
  }

  function podInformer(extra: Partial<InformerOptions<PodRecord>> = {}): Informer<PodRecord> {
    const inf = new Informer<PodRecord>(h.client, {
      resource: PODS,
      transform: toRecord,
      clock: quickClock,
      backoff: { initialMs: 5, maxMs: 40 },
      ...extra,
    });
    informers.push(inf as Informer<unknown>);
    return inf;
  }

  afterEach(async () => {
    for (const inf of informers) await inf.stop();
    informers = [];
    await h.close();
  });

  test('lists, syncs, then follows events; transform keeps only the record', async () => {
    await setup();
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    h.emulator.apply(pod('default', 'b', '10.0.0.2'));
    const inf = podInformer();
    const { log } = record(inf);
    expect(inf.hasSynced()).toBe(false);
    inf.start();
    await inf.waitForSync();
    expect(inf.hasSynced()).toBe(true);
    expect(inf.get('default/a')).toEqual({ name: 'a', ip: '10.0.0.1' });
    expect(inf.getByName('b', 'default')).toEqual({ name: 'b', ip: '10.0.0.2' });
    expect(log.sort()).toEqual(['add a', 'add b']);

    log.length = 0;
    h.emulator.apply(pod('default', 'a', '10.0.0.9'));
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'b' });
    h.emulator.apply(pod('default', 'c', '10.0.0.3'));
    await eventually(() => inf.lastSyncResourceVersion === h.emulator.resourceVersion, 'the informer to catch up');
    expect(log).toEqual(['update a', 'delete b', 'add c']);
    expect(cachePods(inf)).toEqual(serverPods(h));
  });

  test('a consistent list (after resourceVersion 0 was refused) is paginated', async () => {
    await setup();
    for (let i = 0; i < 23; i++) h.emulator.apply(pod('default', `p${i}`, `10.0.1.${i}`));
    h.emulator.resetCounters();
    // The watch cache would answer resourceVersion=0 in one piece; refusing it forces the consistent read.
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', verb: 'list', status: 410 });
    const inf = podInformer({ pageSize: 5 });
    inf.start();
    await inf.waitForSync();
    expect(inf.size).toBe(23);
    expect(h.emulator.counters().byVerb.list).toBe(1 + 5);
  });

  test('410 on watch: re-list, synthetic deletes for vanished objects, updates for changed ones', async () => {
    await setup();
    for (const n of ['keep', 'change', 'vanish']) h.emulator.apply(pod('default', n, '10.0.0.1'));
    const inf = podInformer();
    const { log } = record(inf);
    inf.start();
    await inf.waitForSync();
    log.length = 0;

    // While the informer is disconnected, objects change and the history is compacted away
    // (all synchronous, so it cannot reconnect in between).
    h.emulator.dropWatches();
    h.emulator.apply(pod('default', 'change', '10.0.0.2'));
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'vanish' });
    h.emulator.apply(pod('default', 'new', '10.0.0.3'));
    h.emulator.compact();

    await eventually(() => inf.stats.expired >= 1 && inf.stats.lists >= 2, 'a re-list after 410');
    await eventually(() => inf.lastSyncResourceVersion === h.emulator.resourceVersion, 'the informer to catch up');
    expect(log.sort()).toEqual(['add new', 'delete vanish', 'update change']);
    expect(cachePods(inf)).toEqual(serverPods(h));
  });

  test('a dropped watch resumes from the last version without a re-list and without duplicates', async () => {
    await setup();
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    const inf = podInformer();
    const { log } = record(inf);
    inf.start();
    await inf.waitForSync();
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    for (let round = 0; round < 5; round++) {
      h.emulator.apply(pod('default', `p${round}`, `10.0.2.${round}`));
      h.emulator.dropWatches(round % 2 === 0 ? 'reset' : 'close');
      h.emulator.apply(pod('default', 'a', `10.0.3.${round}`));
      await eventually(() => inf.lastSyncResourceVersion === h.emulator.resourceVersion, 'the informer to catch up');
    }
    expect(inf.stats.lists).toBe(1);
    expect(inf.stats.watches).toBeGreaterThanOrEqual(6);
    expect(cachePods(inf)).toEqual(serverPods(h));
    // Each change seen exactly once.
    expect(log.filter((l) => l === 'update a')).toHaveLength(5);
    expect(log.filter((l) => l.startsWith('add p'))).toHaveLength(5);
  });

  test('bookmarks advance the resourceVersion so a later resume survives compaction of unrelated history', async () => {
    await setup();
    const inf = podInformer();
    inf.start();
    await inf.waitForSync();
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    // Unrelated churn moves the global version; only a bookmark tells the pod watch about it.
    for (let i = 0; i < 5; i++) h.emulator.apply(namespace(`ns${i}`));
    h.emulator.sendBookmarks();
    await eventually(() => inf.lastSyncResourceVersion === h.emulator.resourceVersion, 'the bookmark');
    h.emulator.compact();
    h.emulator.dropWatches();
    h.emulator.apply(pod('default', 'after', '10.0.0.7'));
    await eventually(() => inf.get('default/after') !== undefined, 'the new pod');
    expect(inf.stats.expired).toBe(0);
    expect(inf.stats.lists).toBe(1);
  });

  test('an API server restart: reconnect with backoff, re-list after the lost watch cache, converge', async () => {
    await setup();
    for (let i = 0; i < 5; i++) h.emulator.apply(pod('default', `p${i}`, `10.0.0.${i}`));
    const inf = podInformer();
    const { errors, replay } = record(inf);
    inf.start();
    await inf.waitForSync();
    const restarting = h.emulator.restart({ downMs: 50 });
    // Changes while the server is down (as other replicas of the API server would accept).
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'p0' });
    h.emulator.apply(pod('default', 'p1', '10.9.9.9'));
    await restarting;
    h.emulator.apply(pod('default', 'p9', '10.0.0.9'));
    await eventually(() => inf.lastSyncResourceVersion === h.emulator.resourceVersion, 'the informer to catch up');
    expect(cachePods(inf)).toEqual(serverPods(h));
    expect(replay).toEqual(serverPods(h));
    expect(errors.length).toBeGreaterThan(0);
  });

  test('failed lists back off and retry until they succeed; sync waits for a complete list', async () => {
    await setup();
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', method: 'GET', status: 500, count: 3 });
    const delays: number[] = [];
    const inf = podInformer({
      clock: {
        ...quickClock,
        sleep: (ms, signal) => {
          delays.push(ms);
          return quickClock.sleep(ms, signal);
        },
      },
      random: () => 0.999,
      backoff: { initialMs: 100, maxMs: 250 },
    });
    const { errors } = record(inf);
    inf.start();
    await inf.waitForSync();
    expect(errors).toHaveLength(3);
    expect(inf.stats.failures).toBe(3);
    // Exponential with a cap: ceilings 100, 200, 250 (250 is the cap), scaled by random().
    expect(delays.slice(0, 3)).toEqual([99, 199, 249]);
    expect(inf.size).toBe(1);
  });

  test('after a healthy watch breaks, the backoff starts over from the first step', async () => {
    await setup();
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', method: 'GET', status: 500, count: 3 });
    const delays: number[] = [];
    const inf = podInformer({
      clock: {
        ...quickClock,
        sleep: (ms, signal) => {
          delays.push(ms);
          return quickClock.sleep(ms, signal);
        },
      },
      random: () => 0.999,
      backoff: { initialMs: 100, maxMs: 10_000 },
    });
    inf.start();
    await inf.waitForSync();
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    await eventually(() => inf.size === 1, 'the event');
    h.emulator.dropWatches('reset');
    h.emulator.apply(pod('default', 'b', '10.0.0.2'));
    await eventually(() => inf.size === 2, 'the resumed watch');
    expect(delays).toEqual([99, 199, 399, 99]);
  });

  test('full jitter stays within the exponential ceiling', () => {
    for (let n = 1; n < 12; n++) {
      const ceiling = Math.min(30_000, 1000 * 2 ** (n - 1));
      expect(fullJitterDelay(n, {}, () => 0)).toBe(0);
      expect(fullJitterDelay(n, {}, () => 0.9999999)).toBe(ceiling - 1);
    }
  });

  test('keysInNamespace is an index over the cache: it follows adds and deletes, nothing else keeps the objects', async () => {
    await setup({ namespaces: ['default', 'other'] });
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    h.emulator.apply(pod('other', 'c', '10.0.0.3'));
    const inf = podInformer();
    inf.start();
    await inf.waitForSync();
    h.emulator.apply(pod('default', 'b', '10.0.0.2'));
    await eventually(() => inf.size === 3, 'the added pod');
    expect([...inf.keysInNamespace('default')].sort()).toEqual(['default/a', 'default/b']);
    expect([...inf.keysInNamespace('other')]).toEqual(['other/c']);
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'other', name: 'c' });
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'a' });
    await eventually(() => inf.size === 1, 'the deletes');
    expect([...inf.keysInNamespace('default')]).toEqual(['default/b']);
    expect([...inf.keysInNamespace('other')]).toEqual([]);
    expect([...inf.keysInNamespace('nowhere')]).toEqual([]);
  });

  test('an expired continue token falls back to one unpaginated list', async () => {
    await setup();
    for (let i = 0; i < 10; i++) h.emulator.apply(pod('default', `p${i}`));
    const inf = podInformer({ pageSize: 4 });
    const calls: { continued: boolean; error?: number }[] = [];
    const list = h.client.list.bind(h.client);
    // Between the first and the second page, a write and a compaction expire the continue token.
    h.client.list = (async (type: never, opts: { continue?: string } = {}) => {
      const call: { continued: boolean; error?: number } = { continued: !!opts.continue };
      calls.push(call);
      if (opts.continue && calls.length === 3) {
        h.emulator.apply(pod('default', 'extra'));
        h.emulator.compact();
      }
      try {
        return await list(type, opts as never);
      } catch (e) {
        call.error = (e as { statusCode?: number }).statusCode;
        throw e;
      }
    }) as typeof h.client.list;
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', verb: 'list', status: 410 });
    inf.start();
    await inf.waitForSync();
    // resourceVersion 0 refused, then the consistent paginated read whose token expires, then one piece.
    expect(calls).toEqual([{ continued: false, error: 410 }, { continued: false }, { continued: true, error: 410 }, { continued: false }]);
    expect(inf.size).toBe(11);
    expect(inf.stats.lists).toBe(1);
  });

  test('namespace and label scoping', async () => {
    await setup({ namespaces: ['default', 'other'] });
    h.emulator.apply(pod('default', 'a', '10.0.0.1', { app: 'web' }));
    h.emulator.apply(pod('default', 'b', '10.0.0.2', { app: 'db' }));
    h.emulator.apply(pod('other', 'c', '10.0.0.3', { app: 'web' }));
    const inf = podInformer({ namespace: 'default', labelSelector: 'app=web' });
    const { log } = record(inf);
    inf.start();
    await inf.waitForSync();
    expect([...inf.keys()]).toEqual(['default/a']);
    h.emulator.apply(pod('default', 'a', '10.0.0.1', { app: 'none' }));
    await eventually(() => inf.size === 0, 'the pod to leave the selection');
    expect(log).toEqual(['add a', 'delete a']);
  });

  test('cluster-scoped custom resources are keyed by name', async () => {
    await setup({ crds: ALL_KINDS.map(customResourceDefinition) });
    h.emulator.apply({
      apiVersion: 'egress.cdktf-ces.io/v1alpha1',
      kind: 'ClusterEgressRule',
      metadata: { name: 'r1' },
      spec: { action: 'Allow', priority: 1, destinations: [{ cidr: '10.0.0.0/8' }] },
    });
    const inf = new Informer(h.client, { resource: egressResource('ClusterEgressRule'), clock: quickClock });
    informers.push(inf as Informer<unknown>);
    inf.start();
    await inf.waitForSync();
    expect([...inf.keys()]).toEqual(['r1']);
    expect(inf.getByName('r1')?.spec).toEqual({ action: 'Allow', priority: 1, destinations: [{ cidr: '10.0.0.0/8' }] });
  });

  test('a throwing handler is reported and does not stop the informer', async () => {
    await setup();
    const inf = podInformer();
    const errors: unknown[] = [];
    inf.on(ADD, () => {
      throw new Error('handler bug');
    });
    inf.on(ERROR, (e) => errors.push(e));
    inf.start();
    await inf.waitForSync();
    h.emulator.apply(pod('default', 'a'));
    h.emulator.apply(pod('default', 'b'));
    await eventually(() => inf.size === 2, 'both pods');
    expect(errors.map((e) => (e as Error).message)).toEqual(['handler bug', 'handler bug']);
  });

  test('stop before the first list rejects waitForSync and ends the loop', async () => {
    await setup();
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 500, count: 1000 });
    const inf = podInformer();
    inf.start();
    await eventually(() => inf.stats.failures >= 2, 'a few failures');
    await inf.stop();
    await expect(inf.waitForSync()).rejects.toThrow('stopped before its first list completed');
    expect(inf.hasSynced()).toBe(false);
  });
});

/**
 * A client that answers lists from `items` and streams the watch events a test sends, including
 * ones the real API server would not send (malformed objects).
 */
class ScriptedKube {
  items: unknown[] = [];
  rv = 1;
  lists = 0;
  private queue: WatchEvent[] = [];
  private wake?: () => void;

  async list(): Promise<{ metadata: { resourceVersion: string }; items: unknown[] }> {
    this.lists++;
    return { metadata: { resourceVersion: String(this.rv) }, items: structuredClone(this.items) };
  }

  async *watch(_type: unknown, options: { signal?: AbortSignal }): AsyncGenerator<WatchEvent> {
    while (!options.signal?.aborted) {
      const ev = this.queue.shift();
      if (ev) {
        yield ev;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        options.signal?.addEventListener('abort', () => resolve());
      });
    }
  }

  send(type: WatchEvent['type'], object: unknown): void {
    this.queue.push({ type, object } as WatchEvent);
    this.wake?.();
  }
}

function scriptedPod(name: string, rv: number, status: unknown, metadata: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'default', name, resourceVersion: String(rv), labels: { app: 'web' }, ...metadata },
    status,
  } as KubeObject;
}

describe('Informer: malformed objects fail closed (the old address does not stay)', () => {
  let kube: ScriptedKube;
  let informers: Informer<unknown>[] = [];

  function start<T>(transform: (o: KubeObject) => T): Informer<T> {
    const inf = new Informer<T>(kube as unknown as KubeClient, {
      resource: PODS,
      transform,
      clock: quickClock,
      backoff: { initialMs: 5, maxMs: 40 },
    });
    informers.push(inf as Informer<unknown>);
    inf.start();
    return inf;
  }

  beforeEach(() => {
    kube = new ScriptedKube();
    kube.items = [scriptedPod('a', 1, { phase: 'Running', podIP: '10.244.0.7', podIPs: [{ ip: '10.244.0.7' }] })];
  });

  afterEach(async () => {
    for (const inf of informers) await inf.stop();
    informers = [];
  });

  /** The controller's pod pipeline: podInfo into a membership index with one list of every pod of "default". */
  function podPipeline() {
    const plan: SyncPlan = {
      format: PLAN_FORMAT,
      cluster: 'c',
      tenant: 't',
      application: 'egress',
      routeDomain: 0,
      lists: [
        {
          path: '/t/egress/src_default',
          taskId: '~t~egress~src_default',
          source: { level: 'namespace', namespace: 'default' },
          rules: ['namespace/default/r'],
        },
      ],
      rules: [
        {
          key: 'namespace/default/r',
          kind: 'NamespaceEgressRule',
          name: 'r',
          namespace: 'default',
          sourceList: '/t/egress/src_default',
          specDigest: 'd',
        },
      ],
    };
    const inf = start(podInfo);
    const index = new MembershipIndex(plan, inf);
    const errors: unknown[] = [];
    inf
      .on(ADD, (p) => index.upsertPod(p))
      .on(UPDATE, (_o, p) => index.upsertPod(p))
      .on(DELETE, (p) => index.deletePod(p.namespace, p.name));
    inf.on(ERROR, (e) => errors.push(e));
    return { inf, errors, members: () => index.desired('/t/egress/src_default') };
  }

  test.each([
    ['podIPs is not a list', { phase: 'Running', podIP: '10.244.0.7', podIPs: '10.244.0.9' }],
    ['podIPs holds null', { phase: 'Running', podIPs: [null] }],
  ])('a MODIFIED pod whose %s takes its old address out of the list', async (_what, status) => {
    const { inf, errors, members } = podPipeline();
    await inf.waitForSync();
    expect(members()).toEqual(['10.244.0.7']);
    kube.send('MODIFIED', scriptedPod('a', 2, status));
    await eventually(() => members().length === 0, 'the old address to leave the list');
    expect(inf.get('default/a')).toBeUndefined();
    expect(inf.stats.malformed).toBe(1);
    expect(errors).toEqual([expect.any(MalformedObjectError)]);
    expect((errors[0] as MalformedObjectError).key).toBe('default/a');
    // A good version later brings the pod back.
    kube.send('MODIFIED', scriptedPod('a', 3, { phase: 'Running', podIPs: [{ ip: '10.244.0.8' }] }));
    await eventually(() => members()[0] === '10.244.0.8', 'the new address');
  });

  test.each([
    ['no status.podIP', { phase: 'Running' }],
    ['a podIP that is not a string', { phase: 'Running', podIP: 167772167 }],
    ['a podIP that is not an IP', { phase: 'Running', podIPs: [{ ip: '10.244.0.999' }] }],
  ])('a MODIFIED pod with %s has no address in the list', async (_what, status) => {
    const { inf, members } = podPipeline();
    await inf.waitForSync();
    kube.send('MODIFIED', scriptedPod('a', 2, status));
    await eventually(() => members().length === 0, 'the old address to leave the list');
  });

  test('malformed labels take the object out of the cache instead of being matched', async () => {
    const inf = start((o) => o);
    const deleted: string[] = [];
    inf.on(DELETE, (o) => deleted.push(o.metadata.name as string));
    await inf.waitForSync();
    kube.send('MODIFIED', scriptedPod('a', 2, { phase: 'Running' }, { labels: 'app=web' }));
    await eventually(() => deleted.length === 1, 'a delete');
    expect(inf.size).toBe(0);
    expect(inf.stats.malformed).toBe(1);
  });

  test.each([
    ['without metadata', { kind: 'Pod', status: { podIP: '10.244.0.9' } }],
    ['without metadata.name', { kind: 'Pod', metadata: { namespace: 'default', resourceVersion: '2' } }],
    ['with a numeric resourceVersion', { kind: 'Pod', metadata: { namespace: 'default', name: 'a', resourceVersion: 2 } }],
  ])('an event %s cannot be matched to the cache: the informer lists again and takes what the server has', async (_what, object) => {
    const { inf, errors, members } = podPipeline();
    await inf.waitForSync();
    expect(members()).toEqual(['10.244.0.7']);
    // The server's truth by now: the pod has no address.
    kube.items = [scriptedPod('a', 2, { phase: 'Running' })];
    kube.rv = 2;
    kube.send('MODIFIED', object);
    await eventually(() => members().length === 0, 'the re-list to drop the old address');
    expect(kube.lists).toBe(2);
    expect(inf.stats.malformed).toBe(1);
    expect(errors[0]).toBeInstanceOf(MalformedObjectError);
  });

  test('a listed item without a name is skipped and whatever the cache held for it leaves', async () => {
    const inf = start((o) => o);
    await inf.waitForSync();
    expect(inf.size).toBe(1);
    kube.items = [{ kind: 'Pod', metadata: { namespace: 'default' }, status: { podIP: '10.244.0.7' } }];
    kube.send('MODIFIED', { kind: 'Pod' });
    await eventually(() => inf.size === 0 && kube.lists === 2, 'the re-list');
    expect(inf.stats.malformed).toBe(2);
  });

  test('a DELETED event without metadata re-lists; the pod is gone on the server, so from the cache', async () => {
    const inf = start((o) => o);
    await inf.waitForSync();
    kube.items = [];
    kube.send('DELETED', { kind: 'Pod' });
    await eventually(() => inf.size === 0, 'the re-list');
    expect(kube.lists).toBe(2);
  });
});
