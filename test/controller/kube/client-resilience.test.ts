/**
 * The client's answers to a struggling API server: `Retry-After` on 429 and 5xx is honoured as
 * client-go does, and a watch that dies silently (no events, no bookmarks, connection still
 * open) is given up after the idle timeout, so the informer resumes it.
 */
import * as path from 'node:path';
import { KubeApiError, KubeClient, KubeClientOptions } from '../../../lib/clients/kube/client';
import { loadKubeconfig } from '../../../lib/clients/kube/config';
import { Informer } from '../../../lib/controller/kube/informer';
import { KubeObject, PODS } from '../../../lib/clients/kube/resources';
import { Harness, errorOf, eventually, pod, quickClock, startHarness } from './helpers';

describe('Retry-After', () => {
  let h: Harness;
  let client: KubeClient;
  let waits: number[];
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
    waits = [];
    client = clientWith({});
  });
  afterEach(async () => {
    await client.close();
    await h.close();
  });

  function clientWith(options: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeconfig(path.join(h.dir, 'config')), {
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...options,
    });
  }

  test('a 429 with Retry-After is retried after that many seconds, and the call succeeds', async () => {
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 429, retryAfterSeconds: 3, count: 2 });
    const list = await client.list(PODS);
    expect(list.kind).toBe('PodList');
    expect(waits).toEqual([3000, 3000]);
    expect(h.emulator.counters().injectedFailures).toBe(2);
  });

  test('writes are retried too; 5xx only when the server asks with Retry-After', async () => {
    h.emulator.failNext({ pathPrefix: '/api/v1/namespaces/default/pods', method: 'POST', status: 503, retryAfterSeconds: 1 });
    await client.create(PODS, pod('default', 'a') as KubeObject);
    expect(waits).toEqual([1000]);
    h.emulator.failNext({ pathPrefix: '/api/v1/namespaces/default/pods', method: 'POST', status: 500 });
    expect((await errorOf(client.create(PODS, pod('default', 'b') as KubeObject))).statusCode).toBe(500);
    expect(waits).toEqual([1000]);
  });

  test('after maxRetries the last answer is the error, with its Retry-After', async () => {
    await client.close();
    client = clientWith({ maxRetries: 3 });
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 429, retryAfterSeconds: 2, count: 10 });
    const err = await errorOf(client.list(PODS));
    expect(err.statusCode).toBe(429);
    expect(err.retryAfterSeconds).toBe(2);
    expect(waits).toEqual([2000, 2000, 2000]);
  });

  test('a watch request answered 429 is retried before the stream starts', async () => {
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', status: 429, retryAfterSeconds: 1 });
    const ac = new AbortController();
    const events = (async () => {
      const got: string[] = [];
      for await (const ev of client.watch(PODS, { resourceVersion: h.emulator.resourceVersion, signal: ac.signal })) {
        got.push(ev.type);
        ac.abort();
      }
      return got;
    })();
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    h.emulator.apply(pod('default', 'w'));
    expect(await events).toEqual(['ADDED']);
    expect(waits).toEqual([1000]);
  });
});

describe('silently dead watches', () => {
  let h: Harness;
  let client: KubeClient;
  beforeEach(async () => {
    // Bookmarks every 200 ms stand in for the API server's minute; the idle timeout scales with them.
    h = await startHarness({ namespaces: ['default'], bookmarkIntervalMs: 200 });
    client = new KubeClient(loadKubeconfig(path.join(h.dir, 'config')), { watchIdleTimeoutMs: 1000 });
  });
  afterEach(async () => {
    await client.close();
    await h.close();
  });

  test('a quiet watch kept alive by bookmarks stays open; once the server goes silent it ends with a Timeout', async () => {
    const ac = new AbortController();
    let bookmarks = 0;
    const outcome = (async () => {
      try {
        for await (const ev of client.watch(PODS, { resourceVersion: h.emulator.resourceVersion, signal: ac.signal }))
          if (ev.type === 'BOOKMARK') bookmarks++;
        return 'ended';
      } catch (e) {
        return (e as KubeApiError).reason;
      }
    })();
    // Several idle periods of nothing but bookmarks: no false alarm.
    await eventually(() => bookmarks >= 8, 'bookmarks over several idle periods', 10_000);
    expect(h.emulator.openWatches).toBe(1);
    expect(h.emulator.stallWatches()).toBe(1);
    expect(await outcome).toBe('Timeout');
    ac.abort();
  });

  test('an informer resumes a silently dead watch and sees what changed meanwhile', async () => {
    h.emulator.apply(pod('default', 'before', '10.0.0.1'));
    const informer = new Informer(client, { resource: PODS, clock: quickClock });
    informer.start();
    try {
      await informer.waitForSync();
      await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
      h.emulator.stallWatches();
      h.emulator.apply(pod('default', 'during', '10.0.0.2'));
      await eventually(() => informer.getByName('during', 'default') !== undefined, 'the change made while the watch was dead', 10_000);
      // Resumed from the last version it saw: no second list.
      expect(informer.stats.lists).toBe(1);
    } finally {
      await informer.stop();
    }
  });
});
