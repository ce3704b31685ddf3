/**
 * Reads in the Kubernetes API emulator with kube-apiserver's resourceVersion semantics:
 * paginated lists as snapshots, `resourceVersion=0` from the watch cache, exact reads from the
 * etcd history, and watch caches bounded by time as well as by count.
 */
import { KubeApiError } from '../../../lib/clients/kube/client';
import { PODS } from '../../../lib/clients/kube/resources';
import { Harness, errorOf, eventually, pod, rawRequest, startHarness } from './helpers';

const names = (items: { metadata: { name?: string } }[]) => items.map((i) => i.metadata.name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('list semantics', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
    for (const n of ['a', 'b', 'c', 'd', 'e']) h.emulator.apply(pod('default', n, undefined, { v: '1' }));
  });
  afterEach(() => h.close());

  test('the pages of a paginated list are one snapshot, whatever changes between them', async () => {
    const first = await h.client.list(PODS, { namespace: 'default', limit: 2 });
    expect(names(first.items)).toEqual(['a', 'b']);
    expect(first.metadata.remainingItemCount).toBe(3);
    // Between pages: c is deleted, d changes, f appears.
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'c' });
    h.emulator.apply(pod('default', 'd', undefined, { v: '2' }));
    h.emulator.apply(pod('default', 'f'));
    const second = await h.client.list(PODS, { namespace: 'default', limit: 2, continue: first.metadata.continue });
    const third = await h.client.list(PODS, { namespace: 'default', limit: 2, continue: second.metadata.continue });
    expect([...names(second.items), ...names(third.items)]).toEqual(['c', 'd', 'e']);
    expect(second.items[1].metadata.labels).toEqual({ v: '1' });
    expect(third.metadata.continue).toBeUndefined();
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
  });

  test('a continue token older than the etcd compaction is 410 with a token to go on inconsistently', async () => {
    const first = await h.client.list(PODS, { namespace: 'default', limit: 2 });
    h.emulator.apply(pod('default', 'z'));
    h.emulator.compact();
    const res = await rawRequest(h, 'GET', `/api/v1/namespaces/default/pods?limit=2&continue=${first.metadata.continue}`);
    expect(res.status).toBe(410);
    expect(res.json.message).toMatch(
      /^The provided continue parameter is too old to display a consistent list result\. You can start a new list without the continue parameter, or use the continue token/,
    );
    const rest = await h.client.list(PODS, { namespace: 'default', continue: res.json.metadata.continue });
    expect(names(rest.items)).toEqual(['c', 'd', 'e', 'z']);
  });

  test('etcd compacts on a timer: a token stays valid for one to two intervals', async () => {
    await h.close();
    h = await startHarness({ namespaces: ['default'], etcdCompactionIntervalMs: 150 });
    for (const n of ['a', 'b', 'c']) h.emulator.apply(pod('default', n));
    const first = await h.client.list(PODS, { namespace: 'default', limit: 1 });
    h.emulator.apply(pod('default', 'later'));
    await eventually(
      () => Number(h.emulator.compactedResourceVersion) >= Number(first.metadata.resourceVersion),
      'compaction past the list',
    );
    expect((await errorOf(h.client.list(PODS, { namespace: 'default', limit: 1, continue: first.metadata.continue }))).statusCode).toBe(
      410,
    );
  });

  test('resourceVersion=0 is served from the watch cache: the limit is ignored', async () => {
    const all = await h.client.list(PODS, { namespace: 'default', limit: 2, resourceVersion: '0' });
    expect(names(all.items)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(all.metadata.continue).toBeUndefined();
  });

  test('a resourceVersion with a limit is an exact read of that revision; without one, not older than it', async () => {
    const before = h.emulator.resourceVersion;
    h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: 'a' });
    h.emulator.apply(pod('default', 'b', undefined, { v: '2' }));
    const exact = await h.client.list(PODS, { namespace: 'default', limit: 10, resourceVersion: before });
    expect(names(exact.items)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(exact.items[1].metadata.labels).toEqual({ v: '1' });
    expect(exact.metadata.resourceVersion).toBe(before);
    const notOlder = await h.client.list(PODS, { namespace: 'default', resourceVersion: before });
    expect(names(notOlder.items)).toEqual(['b', 'c', 'd', 'e']);
    const match = await h.client.list(PODS, { namespace: 'default', resourceVersion: before, resourceVersionMatch: 'Exact' });
    expect(names(match.items)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const invalid = await errorOf(h.client.list(PODS, { resourceVersionMatch: 'Exact' }));
    expect(invalid.status?.message).toBe(
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
    );
  });
});

describe('watch cache window', () => {
  let h: Harness;
  afterEach(() => h.close());

  async function watchFrom(rv: string): Promise<number> {
    const ac = new AbortController();
    try {
      for await (const ev of h.client.watch(PODS, { resourceVersion: rv, signal: ac.signal })) {
        void ev;
        ac.abort();
      }
      return 200;
    } catch (e) {
      return (e as KubeApiError).statusCode;
    }
  }

  test('a burst within the time window grows the cache, so an old watch still resumes', async () => {
    h = await startHarness({ namespaces: ['default'], watchCache: { min: 4, max: 64, windowMs: 60_000 } });
    const start = h.emulator.resourceVersion;
    for (let i = 0; i < 20; i++) h.emulator.apply(pod('default', `p${i}`));
    expect(await watchFrom(start)).toBe(200);
  });

  test('events older than the window are dropped once the cache is full: the same watch is 410', async () => {
    h = await startHarness({ namespaces: ['default'], watchCache: { min: 4, max: 64, windowMs: 50 } });
    const start = h.emulator.resourceVersion;
    for (let i = 0; i < 4; i++) h.emulator.apply(pod('default', `p${i}`));
    await sleep(120);
    h.emulator.apply(pod('default', 'late'));
    expect(await watchFrom(start)).toBe(410);
    // The etcd history is not the watch cache: an exact read of that revision still works.
    expect((await h.client.list(PODS, { resourceVersion: start, resourceVersionMatch: 'Exact' })).items).toEqual([]);
  });
});
