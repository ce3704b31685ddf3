/**
 * KubeClient against the emulated API server over real HTTPS: CRUD semantics, optimistic
 * concurrency, status subresource, list and watch protocol details, errors.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { ALL_KINDS, customResourceDefinition } from '../../../lib/k8s/crds';
import { KubeClient } from '../../../lib/clients/kube/client';
import { loadKubeconfig } from '../../../lib/clients/kube/config';
import { KubeObject, LEASES, NAMESPACES, PODS, SERVICES, WatchEvent, egressResource } from '../../../lib/clients/kube/resources';
import { packageRoot } from '../../../lib/util';
import { Harness, errorOf, eventually, namespace, pod, startHarness } from './helpers';

const CGR = egressResource('ClusterEgressRule');
const NGR = egressResource('NamespaceEgressRule');

function rule(name: string, priority = 10): KubeObject {
  return {
    metadata: { name },
    spec: { action: 'Allow', priority, destinations: [{ cidr: '10.0.0.0/8' }] },
  };
}

/** Collects watch events until `until` returns true for the collected list. */
async function collect(iter: AsyncIterable<WatchEvent>, until: (evs: WatchEvent[]) => boolean): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  for await (const ev of iter) {
    out.push(ev);
    if (until(out)) break;
  }
  return out;
}

describe('KubeClient against the emulator', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ crds: ALL_KINDS.map(customResourceDefinition) });
  });
  afterEach(async () => {
    await h.close();
  });

  test('create, get, list and the global resourceVersion', async () => {
    const created = await h.client.create(PODS, pod('default', 'web-1', undefined, { app: 'web' }) as KubeObject);
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.generation).toBe(1);
    // The API server owns pod status on create.
    expect(created.status).toEqual({ phase: 'Pending' });
    const got = await h.client.get(PODS, 'web-1', 'default');
    expect(got.metadata.resourceVersion).toBe(created.metadata.resourceVersion);

    await h.client.create(PODS, pod('default', 'db-1', undefined, { app: 'db' }) as KubeObject);
    const list = await h.client.list(PODS, { namespace: 'default' });
    expect(list.kind).toBe('PodList');
    expect(list.items.map((p) => p.metadata.name)).toEqual(['db-1', 'web-1']);
    expect(Number(list.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(got.metadata.resourceVersion));
    expect(list.metadata.resourceVersion).toBe(h.emulator.resourceVersion);
  });

  test('label and field selectors on list', async () => {
    h.emulator.apply(namespace('shop'));
    h.emulator.apply(pod('shop', 'a', '10.0.0.1', { app: 'web', tier: 'front' }));
    h.emulator.apply(pod('shop', 'b', '10.0.0.2', { app: 'web', tier: 'back' }));
    h.emulator.apply(pod('default', 'c', '10.0.0.3', { app: 'db' }));
    const names = async (opts: object) => (await h.client.list(PODS, opts)).items.map((p) => p.metadata.name);
    expect(await names({ labelSelector: 'app=web' })).toEqual(['c', 'a', 'b'].filter((n) => n !== 'c'));
    expect(await names({ labelSelector: 'app=web,tier!=front' })).toEqual(['b']);
    expect(await names({ labelSelector: 'tier in (front,back)' })).toEqual(['a', 'b']);
    expect(await names({ labelSelector: '!tier' })).toEqual(['c']);
    expect(await names({ fieldSelector: 'metadata.name=b' })).toEqual(['b']);
    expect(await names({ fieldSelector: 'metadata.namespace=default' })).toEqual(['c']);
    expect(await names({ fieldSelector: 'status.podIP=10.0.0.1' })).toEqual(['a']);
    const bad = await errorOf(h.client.list(PODS, { fieldSelector: 'spec.bogus=1' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.message).toContain('field label not supported: spec.bogus');
  });

  test('pagination with limit and continue returns every object once', async () => {
    for (let i = 0; i < 25; i++) h.emulator.apply(pod('default', `p-${String(i).padStart(2, '0')}`));
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await h.client.list(PODS, { namespace: 'default', limit: 10, continue: cont });
      pages++;
      seen.push(...page.items.map((p) => p.metadata.name ?? ''));
      cont = page.metadata.continue;
    } while (cont);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(25);
  });

  test('an expired continue token is 410 Expired', async () => {
    for (let i = 0; i < 5; i++) h.emulator.apply(pod('default', `p-${i}`));
    const first = await h.client.list(PODS, { limit: 2 });
    h.emulator.apply(pod('default', 'later'));
    h.emulator.compact();
    const err = await errorOf(h.client.list(PODS, { limit: 2, continue: first.metadata.continue }));
    expect(err.statusCode).toBe(410);
    expect(err.expired).toBe(true);
    expect(err.reason).toBe('Expired');
  });

  test('create of an existing name is 409 AlreadyExists; get of a missing one is 404', async () => {
    await h.client.create(SERVICES, { metadata: { name: 'api', namespace: 'default' }, spec: { selector: { app: 'api' } } });
    const dup = await errorOf(h.client.create(SERVICES, { metadata: { name: 'api', namespace: 'default' }, spec: {} }));
    expect(dup.statusCode).toBe(409);
    expect(dup.reason).toBe('AlreadyExists');
    expect(dup.conflict).toBe(true);
    const missing = await errorOf(h.client.get(PODS, 'nope', 'default'));
    expect(missing.statusCode).toBe(404);
    expect(missing.notFound).toBe(true);
    expect(missing.status?.details).toEqual({ name: 'nope', kind: 'pods' });
    const noNs = await errorOf(h.client.create(PODS, pod('ghost', 'x') as KubeObject));
    expect(noNs.statusCode).toBe(404);
    expect(noNs.message).toContain('namespaces "ghost" not found');
  });

  test('a replace with a stale resourceVersion is 409 Conflict, a fresh one succeeds', async () => {
    const lease = await h.client.create(LEASES, { metadata: { name: 'l', namespace: 'default' }, spec: { holderIdentity: 'a' } });
    const first = await h.client.replace(LEASES, { ...lease, spec: { holderIdentity: 'b' } });
    expect(Number(first.metadata.resourceVersion)).toBeGreaterThan(Number(lease.metadata.resourceVersion));
    const stale = await errorOf(h.client.replace(LEASES, { ...lease, spec: { holderIdentity: 'c' } }));
    expect(stale.statusCode).toBe(409);
    expect(stale.reason).toBe('Conflict');
    expect(stale.message).toContain('leases.coordination.k8s.io "l"');
    expect((await h.client.get<KubeObject & { spec: { holderIdentity: string } }>(LEASES, 'l', 'default')).spec.holderIdentity).toBe('b');
  });

  test('custom resources need a resourceVersion on replace', async () => {
    const r = await h.client.create(CGR, rule('r1'));
    const { resourceVersion, ...meta } = r.metadata;
    expect(resourceVersion).toBeDefined();
    const err = await errorOf(h.client.replace(CGR, { ...r, metadata: meta }));
    expect(err.statusCode).toBe(422);
    expect(err.message).toContain('metadata.resourceVersion');
  });

  test('merge patch, generation and the status subresource', async () => {
    const created = await h.client.create(CGR, { ...rule('r1'), status: { members: 99 } });
    // Status is dropped on create when the status subresource is enabled.
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);

    const labelled = await h.client.mergePatch(CGR, 'r1', { metadata: { labels: { team: 'pay' } } });
    expect(labelled.metadata.labels).toEqual({ team: 'pay' });
    expect(labelled.metadata.generation).toBe(1);

    const respec = await h.client.mergePatch(CGR, 'r1', { spec: { priority: 20 }, status: { members: 5 } });
    expect((respec.spec as { priority: number }).priority).toBe(20);
    expect(respec.metadata.generation).toBe(2);
    // Writes to the main resource ignore status.
    expect(respec.status).toBeUndefined();

    const withStatus = await h.client.mergePatchStatus(CGR, 'r1', {
      status: { observedGeneration: 2, members: 3 },
      spec: { priority: 999 },
    });
    expect(withStatus.status).toEqual({ observedGeneration: 2, members: 3 });
    // Writes to /status ignore everything else.
    expect((withStatus.spec as { priority: number }).priority).toBe(20);
    expect(withStatus.metadata.generation).toBe(2);

    // Removing a field with null (RFC 7386).
    const removed = await h.client.mergePatchStatus(CGR, 'r1', { status: { members: null } });
    expect(removed.status).toEqual({ observedGeneration: 2 });

    // A status write that changes nothing keeps the resourceVersion.
    const again = await h.client.mergePatchStatus(CGR, 'r1', { status: { observedGeneration: 2 } });
    expect(again.metadata.resourceVersion).toBe(removed.metadata.resourceVersion);

    // A merge patch carrying a stale resourceVersion is a conflict.
    const stale = await errorOf(
      h.client.mergePatchStatus(CGR, 'r1', { metadata: { resourceVersion: created.metadata.resourceVersion }, status: { members: 1 } }),
    );
    expect(stale.statusCode).toBe(409);
  });

  test('namespaced custom resources and schema validation', async () => {
    const ok = await h.client.create(NGR, {
      metadata: { name: 'n1', namespace: 'default' },
      spec: { action: 'Deny', priority: 1, destinations: [{ fqdn: 'api.example.com' }], unknownField: true },
    });
    // Fields the structural schema does not declare are pruned.
    expect((ok.spec as Record<string, unknown>).unknownField).toBeUndefined();
    const bad = await errorOf(
      h.client.create(NGR, { metadata: { name: 'n2', namespace: 'default' }, spec: { action: 'Maybe', priority: 5000, destinations: [] } }),
    );
    expect(bad.statusCode).toBe(422);
    expect(bad.reason).toBe('Invalid');
    expect(bad.message).toContain('spec.action');
    expect(bad.message).toContain('spec.priority');
    const list = await h.client.list(NGR);
    expect(list.items.map((i) => i.metadata.name)).toEqual(['n1']);
  });

  test('a CRD created over the API starts serving its resources; deleting it removes them', async () => {
    const crd = {
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    const CRDS = {
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      kind: 'CustomResourceDefinition',
      namespaced: false,
    };
    const WIDGETS = { group: 'example.com', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };
    expect((await errorOf(h.client.list(WIDGETS))).statusCode).toBe(404);
    const created = await h.client.create(CRDS, crd);
    // The strategy clears status on create; the CRD controllers fill it in afterwards.
    expect(created.status).toEqual({ acceptedNames: { plural: '', kind: '' }, storedVersions: ['v1'] });
    await eventually(
      async () => ((await h.client.get(CRDS, 'widgets.example.com')).status as { conditions?: unknown[] }).conditions !== undefined,
      'names accepted',
    );
    await h.client.create(WIDGETS, { metadata: { name: 'w', namespace: 'default' }, spec: { size: 3 } });
    // No status subresource declared: /status is not served.
    expect((await errorOf(h.client.mergePatchStatus(WIDGETS, 'w', { status: {} }, 'default'))).statusCode).toBe(404);
    await h.client.delete(CRDS, 'widgets.example.com');
    expect((await errorOf(h.client.list(WIDGETS))).statusCode).toBe(404);
  });

  test('delete, preconditions, finalizers and namespace cascade', async () => {
    h.emulator.apply(namespace('team'));
    const p = await h.client.create(PODS, pod('team', 'a') as KubeObject);
    const wrong = await errorOf(h.client.delete(PODS, 'a', 'team', { preconditions: { uid: 'not-the-uid' } }));
    expect(wrong.statusCode).toBe(409);
    await h.client.delete(PODS, 'a', 'team', { preconditions: { uid: p.metadata.uid } });
    expect(h.emulator.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'team', name: 'a' })).toBeUndefined();

    await h.client.create(SERVICES, { metadata: { name: 'held', namespace: 'team', finalizers: ['example.com/keep'] }, spec: {} });
    const marked = (await h.client.delete(SERVICES, 'held', 'team')) as KubeObject;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    const still = await h.client.get(SERVICES, 'held', 'team');
    await h.client.mergePatch(SERVICES, 'held', { metadata: { finalizers: null } }, 'team');
    expect((await errorOf(h.client.get(SERVICES, 'held', 'team'))).statusCode).toBe(404);
    expect(still.metadata.finalizers).toEqual(['example.com/keep']);

    h.emulator.apply(pod('team', 'b'));
    await h.client.delete(NAMESPACES, 'team');
    expect(h.emulator.list({ apiVersion: 'v1', kind: 'Pod', namespace: 'team' })).toEqual([]);
    expect((await errorOf(h.client.get(NAMESPACES, 'team'))).statusCode).toBe(404);
  });

  test('unsupported patch types are 415', async () => {
    await h.client.create(PODS, pod('default', 'x') as KubeObject);
    const res = await fetchRaw(h, 'PATCH', '/api/v1/namespaces/default/pods/x', '{}', 'application/strategic-merge-patch+json');
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ kind: 'Status', reason: 'UnsupportedMediaType', code: 415 });
  });

  test('a wrong token is 401 with a Status body', async () => {
    const file = h.emulator.writeKubeconfig(path.join(h.dir, 'bad'), { token: 'wrong' });
    const client = new KubeClient(loadKubeconfig(file));
    try {
      const err = await errorOf(client.list(PODS));
      expect(err.statusCode).toBe(401);
      expect(err.reason).toBe('Unauthorized');
      expect(h.emulator.counters().unauthorized).toBe(1);
    } finally {
      await client.close();
    }
  });

  test('a rotated token file is re-read after a 401', async () => {
    const tokenFile = path.join(h.dir, 'token');
    const file = h.emulator.writeKubeconfig(path.join(h.dir, 'rotating'), { tokenFile, token: 'old-token' });
    const client = new KubeClient(loadKubeconfig(file));
    try {
      expect((await errorOf(client.list(PODS))).statusCode).toBe(401);
      fs.writeFileSync(tokenFile, h.emulator.token);
      const list = await client.list(PODS);
      expect(list.kind).toBe('PodList');
    } finally {
      await client.close();
    }
  });

  test('injected 503 and 429 carry Retry-After; resets are connection errors', async () => {
    const noRetry = new KubeClient(loadKubeconfig(path.join(h.dir, 'config')), { maxRetries: 0 });
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 503, retryAfterSeconds: 7 });
    const unavailable = await errorOf(noRetry.list(PODS));
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.retryAfterSeconds).toBe(7);
    expect(unavailable.retryable).toBe(true);
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 429 });
    expect((await errorOf(noRetry.list(PODS))).reason).toBe('TooManyRequests');
    await noRetry.close();
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 'reset' });
    const reset = await errorOf(h.client.list(PODS));
    expect(reset.statusCode).toBe(0);
    expect(reset.reason).toBe('ConnectionError');
    expect(reset.retryable).toBe(true);
    // Other paths were never affected, and the rules are used up.
    expect((await h.client.list(PODS)).kind).toBe('PodList');
    expect(h.emulator.counters().injectedFailures).toBe(3);
  });

  test('counters count requests by verb', async () => {
    h.emulator.resetCounters();
    await h.client.list(PODS);
    await h.client.create(PODS, pod('default', 'a') as KubeObject);
    await h.client.get(PODS, 'a', 'default');
    await h.client.mergePatch(PODS, 'a', { metadata: { labels: { x: 'y' } } }, 'default');
    await h.client.delete(PODS, 'a', 'default');
    const c = h.emulator.counters();
    expect(c.byVerb).toMatchObject({ list: 1, create: 1, get: 1, patch: 1, delete: 1, watch: 0 });
    expect(c.byResource['patch pods']).toBe(1);
  });
});

describe('watch protocol', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({ bookmarkIntervalMs: 0 });
  });
  afterEach(async () => {
    await h.close();
  });

  test('events after a resourceVersion, in order, with final states', async () => {
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    const list = await h.client.list(PODS);
    const ac = new AbortController();
    const events = collect(
      h.client.watch(PODS, { resourceVersion: list.metadata.resourceVersion, signal: ac.signal }),
      (evs) => evs.length === 4,
    );
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'b', '10.0.0.2'));
    h.emulator.apply(pod('default', 'a', '10.0.0.9'));
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'b' });
    h.emulator.apply(pod('default', 'c'));
    const got = await events;
    ac.abort();
    expect(got.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b', 'MODIFIED a', 'DELETED b', 'ADDED c']);
    const rvs = got.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((x, y) => x - y)).toEqual(rvs);
    expect((got[1].object.status as { podIP: string }).podIP).toBe('10.0.0.9');
  });

  test('a watch without resourceVersion starts with ADDED for every object', async () => {
    h.emulator.apply(pod('default', 'a'));
    h.emulator.apply(pod('default', 'b'));
    const got = await collect(h.client.watch(PODS, { namespace: 'default' }), (evs) => evs.length === 2);
    expect(got.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'ADDED b']);
  });

  test('a selector change turns into ADDED and DELETED for a filtered watch', async () => {
    h.emulator.apply(pod('default', 'a', '10.0.0.1', { app: 'web' }));
    const rv = h.emulator.resourceVersion;
    const ac = new AbortController();
    const events = collect(
      h.client.watch(PODS, { resourceVersion: rv, labelSelector: 'app=web', signal: ac.signal }),
      (evs) => evs.length === 2,
    );
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'a', '10.0.0.1', { app: 'other' }));
    h.emulator.apply(pod('default', 'a', '10.0.0.1', { app: 'web' }));
    const got = await events;
    ac.abort();
    expect(got.map((e) => e.type)).toEqual(['DELETED', 'ADDED']);
    // The DELETED object is the last matching state with the new resourceVersion.
    expect(got[0].object.metadata.labels).toEqual({ app: 'web' });
    expect(Number(got[0].object.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
  });

  test('bookmarks carry the current resourceVersion and only go to watches that allow them', async () => {
    const rv = h.emulator.resourceVersion;
    const ac = new AbortController();
    const withBookmarks = collect(h.client.watch(PODS, { resourceVersion: rv, signal: ac.signal }), (evs) =>
      evs.some((e) => e.type === 'BOOKMARK'),
    );
    const without: WatchEvent[] = [];
    const noBookmarks = (async () => {
      for await (const ev of h.client.watch(PODS, { resourceVersion: rv, allowWatchBookmarks: false, signal: ac.signal })) without.push(ev);
    })();
    await eventually(() => h.emulator.openWatches === 2, 'both watches to open');
    // Changes to other resources move the global resourceVersion past this watch's last event.
    h.emulator.apply(namespace('elsewhere'));
    h.emulator.sendBookmarks();
    const got = await withBookmarks;
    const bookmark = got.find((e) => e.type === 'BOOKMARK');
    expect(bookmark?.object.metadata.resourceVersion).toBe(h.emulator.resourceVersion);
    expect(bookmark?.object.kind).toBe('Pod');
    h.emulator.apply(pod('default', 'z'));
    await eventually(() => without.length === 1, 'the event on the other watch');
    ac.abort();
    await noBookmarks;
    expect(without.map((e) => e.type)).toEqual(['ADDED']);
  });

  test('periodic bookmarks arrive without any change', async () => {
    h.emulator.setBookmarkInterval(20);
    const got = await collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion }), (evs) => evs.length === 2);
    expect(got.map((e) => e.type)).toEqual(['BOOKMARK', 'BOOKMARK']);
  });

  test('a resourceVersion older than the compaction point yields one ERROR 410 Expired and ends', async () => {
    const old = h.emulator.resourceVersion;
    h.emulator.apply(pod('default', 'a'));
    h.emulator.compact();
    const err = await errorOf(collect(h.client.watch(PODS, { resourceVersion: old }), () => false));
    expect(err.statusCode).toBe(410);
    expect(err.reason).toBe('Expired');
    expect(err.expired).toBe(true);
    expect(err.message).toContain('too old resource version');
    expect(h.emulator.openWatches).toBe(0);
    // Watching from the compaction point itself still works.
    const ac = new AbortController();
    const next = collect(
      h.client.watch(PODS, { resourceVersion: h.emulator.compactedResourceVersion, signal: ac.signal }),
      (evs) => evs.length === 1,
    );
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'b'));
    expect((await next).map((e) => e.object.metadata.name)).toEqual(['b']);
    ac.abort();
  });

  test('the etcd history limit compacts automatically: exact reads of older versions are 410', async () => {
    await h.close();
    h = await startHarness({ historyLimit: 10, namespaces: ['default'] });
    const start = h.emulator.resourceVersion;
    for (let i = 0; i < 20; i++) h.emulator.apply(pod('default', `p${i}`));
    expect(Number(h.emulator.compactedResourceVersion)).toBeGreaterThan(Number(start));
    const err = await errorOf(h.client.list(PODS, { resourceVersion: start, resourceVersionMatch: 'Exact' }));
    expect(err.statusCode).toBe(410);
    expect(err.message).toContain('The resourceVersion for the provided list is too old.');
  });

  test('a full watch cache drops its oldest events: watches from before them are 410', async () => {
    await h.close();
    h = await startHarness({ watchCache: { min: 10, max: 10 }, namespaces: ['default'] });
    const start = h.emulator.resourceVersion;
    for (let i = 0; i < 20; i++) h.emulator.apply(pod('default', `p${i}`));
    const err = await errorOf(collect(h.client.watch(PODS, { resourceVersion: start }), () => false));
    expect(err.statusCode).toBe(410);
    expect(err.message).toContain(`too old resource version: ${start}`);
    // The etcd history still has them: only the watch cache is bounded.
    expect(Number(h.emulator.compactedResourceVersion)).toBeLessThanOrEqual(Number(start));
  });

  test('a resourceVersion from the future is 504 with ResourceVersionTooLarge', async () => {
    // The answer asks for a retry after 1 s; this client gives up at once to look at it.
    const client = new KubeClient(loadKubeconfig(path.join(h.dir, 'config')), { maxRetries: 0 });
    const err = await errorOf(
      collect(client.watch(PODS, { resourceVersion: String(Number(h.emulator.resourceVersion) + 100) }), () => false),
    );
    await client.close();
    expect(err.statusCode).toBe(504);
    expect(err.resourceVersionTooLarge).toBe(true);
  });

  test('timeoutSeconds ends the stream cleanly', async () => {
    const got = await collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion, timeoutSeconds: 0 }), () => false);
    expect(got).toEqual([]);
  });

  test('dropping watches breaks the stream with a connection error; close mode ends it cleanly', async () => {
    const broken = errorOf(collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion }), () => false));
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    expect(h.emulator.dropWatches('reset')).toBe(1);
    const err = await broken;
    expect(err.statusCode).toBe(0);

    const clean = collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion }), () => false);
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.dropWatches('close');
    expect(await clean).toEqual([]);
  });

  test('aborting ends the iteration quietly', async () => {
    const ac = new AbortController();
    const events = collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion, signal: ac.signal }), () => false);
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    ac.abort();
    expect(await events).toEqual([]);
    await eventually(() => h.emulator.openWatches === 0, 'the server to notice');
  });

  test('graceful pod deletion: MODIFIED with deletionTimestamp, then DELETED', async () => {
    await h.close();
    h = await startHarness({ podGracefulDeletion: {} });
    h.emulator.apply(pod('default', 'a', '10.0.0.1'));
    const ac = new AbortController();
    const events = collect(
      h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion, signal: ac.signal }),
      (evs) => evs.length === 2,
    );
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    const marked = (await h.client.delete(PODS, 'a', 'default')) as KubeObject;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(h.emulator.finishPodTermination('default', 'a')).toBe(true);
    const got = await events;
    ac.abort();
    expect(got.map((e) => e.type)).toEqual(['MODIFIED', 'DELETED']);
    expect(got[0].object.metadata.deletionTimestamp).toBeDefined();
  });

  test('a forced delete (gracePeriodSeconds 0) skips the terminating state', async () => {
    await h.close();
    h = await startHarness({ podGracefulDeletion: {} });
    h.emulator.apply(pod('default', 'a'));
    await h.client.delete(PODS, 'a', 'default', { gracePeriodSeconds: 0 });
    expect(h.emulator.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'a' })).toBeUndefined();
  });

  test('a restart closes watches and keeps objects; the same port answers again', async () => {
    h.emulator.apply(pod('default', 'kept'));
    const url = h.emulator.url;
    const broken = errorOf(collect(h.client.watch(PODS, { resourceVersion: h.emulator.resourceVersion }), () => false));
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    const before = h.emulator.resourceVersion;
    await h.emulator.restart({ downMs: 10 });
    expect((await broken).statusCode).toBe(0);
    expect(h.emulator.url).toBe(url);
    const list = await h.client.list(PODS);
    expect(list.items.map((p) => p.metadata.name)).toEqual(['kept']);
    // The new server's watch cache starts now: a watch from before the restart is 410.
    const err = await errorOf(collect(h.client.watch(PODS, { resourceVersion: String(Number(before) - 1) }), () => false));
    expect(err.statusCode).toBe(410);
    // ...but from the version it listed at, the watch resumes.
    const ac = new AbortController();
    const resumed = collect(h.client.watch(PODS, { resourceVersion: before, signal: ac.signal }), (evs) => evs.length === 1);
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'after'));
    expect((await resumed).map((e) => e.object.metadata.name)).toEqual(['after']);
    ac.abort();
  });
});

describe('watch stream parsing', () => {
  // A raw server that splits lines at awkward places, including inside a multi-byte character.
  test('events split across chunks at any byte are reassembled', async () => {
    const fixtures = path.join(packageRoot(), 'test', 'emulators', 'fixtures');
    const events = [
      { type: 'ADDED', object: { metadata: { name: 'ä-1', resourceVersion: '5', annotations: { note: 'größe ✓ 🚀' } } } },
      { type: 'MODIFIED', object: { metadata: { name: 'b', resourceVersion: '6' } } },
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } },
    ];
    const bytes = Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    const server = https.createServer(
      { key: fs.readFileSync(path.join(fixtures, 'server.key')), cert: fs.readFileSync(path.join(fixtures, 'server.crt')) },
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        let i = 0;
        const sizes = [1, 2, 3, 5, 7, 11, 13];
        const next = (): void => {
          if (i >= bytes.length) return void res.end();
          const n = sizes[i % sizes.length];
          res.write(bytes.subarray(i, i + n));
          i += n;
          setImmediate(next);
        };
        next();
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const client = new KubeClient({
      server: `https://127.0.0.1:${port}`,
      ca: fs.readFileSync(path.join(fixtures, 'ca.crt'), 'utf8'),
      insecureSkipTlsVerify: false,
      namespace: 'default',
      source: 'test',
    });
    try {
      const got = await collect(client.watch(PODS, {}), () => false);
      expect(got).toEqual(events);
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

async function fetchRaw(
  h: Harness,
  method: string,
  p: string,
  body: string,
  contentType: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(h.emulator.url + p);
    const req = https.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        ca: h.emulator.caCert,
        headers: { authorization: `Bearer ${h.emulator.token}`, 'content-type': contentType },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
