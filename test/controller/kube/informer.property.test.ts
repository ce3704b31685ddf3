/**
 * Property: whatever happens to the API server (creates, updates, deletes, dropped watches,
 * compactions, restarts, in any order), the informer's cache ends up equal to the server's
 * state, and the add/update/delete callbacks replayed on an empty map give the same state.
 */
import fc from 'fast-check';
import { ADD, DELETE, Informer, UPDATE } from '../../../lib/controller/kube/informer';
import { KubeObject, PODS } from '../../../lib/clients/kube/resources';
import { eventually, pod, quickClock, startHarness } from './helpers';

type Op =
  | { readonly kind: 'put'; readonly name: number; readonly ip: number }
  | { readonly kind: 'patch'; readonly name: number; readonly ip: number }
  | { readonly kind: 'delete'; readonly name: number }
  | { readonly kind: 'drop'; readonly mode: 'reset' | 'close' }
  | { readonly kind: 'compact' }
  | { readonly kind: 'restart' }
  | { readonly kind: 'bookmark' }
  | { readonly kind: 'pause'; readonly ms: number };

const name = fc.integer({ min: 0, max: 7 });
const ip = fc.integer({ min: 1, max: 254 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('put' as const), name, ip }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('patch' as const), name, ip }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), name }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), mode: fc.constantFrom('reset' as const, 'close' as const) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bookmark' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 4 }) }) },
);

const podIp = (obj: KubeObject): string | undefined => (obj.status as { podIP?: string } | undefined)?.podIP;

test('the informer cache converges to the server state under churn and faults', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      const h = await startHarness({ bookmarkIntervalMs: 0, namespaces: ['default'], historyLimit: 50 });
      const inf = new Informer<string | undefined>(h.client, {
        resource: PODS,
        transform: podIp,
        pageSize: 3,
        clock: quickClock,
        backoff: { initialMs: 2, maxMs: 20 },
      });
      // A second informer whose records carry their key, so callbacks can be replayed into a map.
      const replay = new Map<string, string | undefined>();
      const keyed = new Informer<{ key: string; ip?: string }>(h.client, {
        resource: PODS,
        transform: (o) => ({ key: `${o.metadata.namespace}/${o.metadata.name}`, ip: podIp(o) }),
        clock: quickClock,
        backoff: { initialMs: 2, maxMs: 20 },
      });
      keyed.on(ADD, (v) => {
        if (replay.has(v.key)) throw new Error(`add for ${v.key} which is already present`);
        replay.set(v.key, v.ip);
      });
      keyed.on(UPDATE, (old, v) => {
        if (!replay.has(old.key)) throw new Error(`update for ${old.key} which was never added`);
        replay.set(v.key, v.ip);
      });
      keyed.on(DELETE, (v) => {
        if (!replay.delete(v.key)) throw new Error(`delete for ${v.key} which was never added`);
      });
      const handlerErrors: unknown[] = [];
      keyed.on('error', (e) => {
        if (e instanceof Error && /already present|never added/.test(e.message)) handlerErrors.push(e);
      });
      let restarting: Promise<void> | undefined;
      try {
        inf.start();
        keyed.start();
        await Promise.all([inf.waitForSync(), keyed.waitForSync()]);
        for (const o of ops) {
          switch (o.kind) {
            case 'put':
              h.emulator.apply(pod('default', `p${o.name}`, `10.0.0.${o.ip}`));
              break;
            case 'patch':
              try {
                await h.client.mergePatchStatus(PODS, `p${o.name}`, { status: { podIP: `10.1.0.${o.ip}` } }, 'default');
              } catch {
                // Missing pod (404) or the server is down: the server state is whatever it is.
              }
              break;
            case 'delete':
              h.emulator.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'default', name: `p${o.name}` });
              break;
            case 'drop':
              h.emulator.dropWatches(o.mode);
              break;
            case 'compact':
              h.emulator.compact();
              break;
            case 'restart':
              await restarting;
              restarting = h.emulator.restart({ downMs: 5 });
              break;
            case 'bookmark':
              h.emulator.sendBookmarks();
              break;
            case 'pause':
              await new Promise((r) => setTimeout(r, o.ms));
              break;
          }
        }
        await restarting;
        const server = () =>
          new Map(h.emulator.list({ apiVersion: 'v1', kind: 'Pod' }).map((p) => [`default/${p.metadata.name}`, podIp(p)]));
        await eventually(() => {
          h.emulator.sendBookmarks();
          const want = server();
          const cache = new Map([...inf.keys()].map((k) => [k, inf.get(k)]));
          expect(cache).toEqual(want);
          expect(replay).toEqual(want);
          expect(inf.lastSyncResourceVersion).toBe(h.emulator.resourceVersion);
          expect(keyed.lastSyncResourceVersion).toBe(h.emulator.resourceVersion);
        }, 'the caches to converge');
        expect(handlerErrors).toEqual([]);
      } finally {
        await inf.stop();
        await keyed.stop();
        await restarting;
        await h.close();
      }
    }),
    { numRuns: 30 },
  );
});
