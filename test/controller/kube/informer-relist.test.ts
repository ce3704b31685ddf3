/**
 * Which resourceVersion the informer lists at, as client-go's reflector chooses it
 * (reflector.go `relistResourceVersion`): "0" first, so the watch cache answers; after a
 * watch expired, the last version seen, in one piece; a consistent read only once that
 * version is unavailable too.
 */
import { Informer } from '../../../lib/controller/kube/informer';
import { PODS } from '../../../lib/clients/kube/resources';
import { Harness, eventually, pod, quickClock, startHarness } from './helpers';

describe('informer list resourceVersions', () => {
  let h: Harness;
  let informer: Informer | undefined;
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
    for (let i = 0; i < 5; i++) h.emulator.apply(pod('default', `p${i}`, `10.0.0.${i + 1}`));
    h.emulator.resetCounters();
  });
  afterEach(async () => {
    await informer?.stop();
    await h.close();
  });

  const lists = () => h.emulator.requestLog().filter((r) => r.verb === 'list' && r.resource === 'pods');

  test('the first list asks for resourceVersion 0 and gets everything in one answer from the watch cache', async () => {
    informer = new Informer(h.client, { resource: PODS, pageSize: 2, clock: quickClock });
    informer.start();
    await informer.waitForSync();
    expect(informer.size).toBe(5);
    expect(lists().map((r) => r.query)).toEqual([{ limit: '2', resourceVersion: '0' }]);
  });

  test('after a watch expired, the relist asks for the last version seen, unpaginated; then a consistent read if that fails', async () => {
    informer = new Informer(h.client, { resource: PODS, pageSize: 2, clock: quickClock });
    informer.start();
    await informer.waitForSync();
    await eventually(() => h.emulator.openWatches === 1, 'the watch to open');
    const seen = informer.lastSyncResourceVersion;
    h.emulator.apply(pod('default', 'p5', '10.0.0.6'));
    // The watch cache forgets everything, and the next list of pods fails as expired too.
    h.emulator.compact();
    h.emulator.failNext({ pathPrefix: '/api/v1/pods', verb: 'list', status: 410 });
    h.emulator.dropWatches('reset');
    await eventually(() => informer?.stats.lists === 2 && informer.size === 6, 'the relist');
    const queries = lists().map((r) => r.query);
    expect(queries.slice(1, 3)).toEqual([{ resourceVersion: expect.any(String) }, { limit: '2' }]);
    expect(Number(queries[1].resourceVersion)).toBeGreaterThanOrEqual(Number(seen));
    expect(queries.slice(3).every((q) => q.continue !== undefined && q.resourceVersion === undefined)).toBe(true);
  });
});
