/**
 * Recovery from faults that used to leave lists stale long after the fault was over (both
 * found by the fault schedules of faults.test.ts, reduced here to the smallest run):
 *
 * 1. A 401 that outlives the client's one re-login (the device revoked the fresh token too, or
 *    the login itself answered 401 for a moment after a restart) fails the push with
 *    `Unauthorized`. Credentials are device-wide, not a property of one list, so the push must
 *    be retried with the normal backoff, not parked for terminalRetryMs (60 s): once the device
 *    accepts the login again every list, removals included, converges within the 5 s bound.
 *
 * 2. A quiet resource (namespaces, services, the rule CRs) whose watch was open and healthy
 *    and is then dropped is a first failure again: its reconnect backoff must not keep growing
 *    from drop to drop just because the watch had no events to deliver. A server that closes
 *    watches at once still meets a growing backoff.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeClient } from '../../../lib/clients/kube/client';
import { loadKubeconfig } from '../../../lib/clients/kube/config';
import { Informer } from '../../../lib/controller/kube/informer';
import { NAMESPACES } from '../../../lib/clients/kube/resources';
import { BigipFault } from '../../emulators/bigip/emulator';
import { KubeApiEmulator } from '../../emulators/kube/emulator';
import {
  InProcessController,
  World,
  eventually,
  listPath,
  listsConverged,
  pod,
  podRef,
  sleep,
  startInProcess,
  startWorld,
} from './support';
import { systemClock } from '../../../lib/clients/clock';

/** The convergence bound once faults stop; a parked list would take terminalRetryMs (60 s). */
const RECOVERY_LIMIT_MS = 5_000;

describe.each([
  ['the token is revoked twice in a row (the nodes request, then its retry after the fresh login)', 'nodes'],
  ['after a device restart the login answers 401 once', 'login'],
] as const)('a 401 that outlives the re-login: %s', (_name, where) => {
  let world: World;
  let controller: InProcessController;

  beforeAll(async () => {
    world = await startWorld();
    for (let i = 1; i <= 4; i++) world.emulators.kube.apply(pod('payments', `api-${i}`, { ips: [`10.1.0.${i}`] }));
    controller = await startInProcess(world);
    await eventually(
      () => listsConverged(world) && world.emulators.bigip.listMembers(listPath(world.plan, 'src_ns_payments'))?.length === 4,
      'the first push',
    );
  });
  afterAll(async () => {
    await controller?.stop();
    await world?.stop();
  });

  test('the removal reaches the device within the bound once the device accepts the credentials again', async () => {
    const { kube, bigip } = world.emulators;
    const faults = where === 'nodes' ? 2 : 1;
    if (where === 'nodes') {
      bigip.injectFault({ fault: BigipFault.UNAUTHORIZED, pathPrefix: '/mgmt/shared/service-discovery/task/', count: 2 });
    } else {
      bigip.revokeAllTokens();
      bigip.injectFault({ fault: BigipFault.UNAUTHORIZED, pathPrefix: '/mgmt/shared/authn/login', count: 1 });
    }
    kube.delete(podRef('payments', 'api-1'), { gracePeriodSeconds: 0 });
    await eventually(() => bigip.faultCount(BigipFault.UNAUTHORIZED) === faults, 'the 401s');
    // From here on the device accepts every request.
    const recoveredAt = Date.now();
    await eventually(() => listsConverged(world), 'every list, the removal included, to reach the device', 70_000);
    const recoveryMs = Date.now() - recoveredAt;
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_LIMIT_MS);
    expect(bigip.listMembers(listPath(world.plan, 'src_ns_payments'))).not.toContain('10.1.0.1');
    // The failure was reported, not swallowed.
    expect(controller.logs.some((l) => l.msg === 'push failed' && String(l.error).includes('Unauthorized') && l.terminal === false)).toBe(
      true,
    );
  }, 90_000);
});

describe('informer backoff after dropped watches', () => {
  let emulator: KubeApiEmulator;
  let client: KubeClient;
  let dir: string;

  beforeAll(async () => {
    emulator = await KubeApiEmulator.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-informer-'));
    client = new KubeClient(loadKubeconfig(emulator.writeKubeconfig(path.join(dir, 'kubeconfig'))));
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A namespaces informer that records the largest delay its backoff can draw, waiting at most 20 ms of it. */
  function recordingInformer(healthyWatchMs: number): { informer: Informer; delays: number[] } {
    const delays: number[] = [];
    const informer = new Informer(client, {
      resource: NAMESPACES,
      healthyWatchMs,
      random: () => 0.999,
      clock: {
        ...systemClock,
        sleep: (ms, signal) => {
          delays.push(ms);
          return systemClock.sleep(Math.min(ms, 20), signal);
        },
      },
    });
    return { informer, delays };
  }

  test('a quiet watch that was open longer than healthyWatchMs and is dropped reconnects within the first backoff ceiling, every time', async () => {
    const { informer, delays } = recordingInformer(1000);
    informer.start();
    try {
      await informer.waitForSync();
      await eventually(() => emulator.openWatches === 1, 'the watch');
      for (let drop = 0; drop < 4; drop++) {
        await sleep(1500); // open, healthy, nothing to report
        emulator.dropWatches('reset');
        await eventually(() => emulator.openWatches === 1, 'the watch to be re-established');
      }
      expect(delays).toHaveLength(4);
      // Each drop follows a healthy watch, so each is a first failure (ceiling 1000 ms).
      for (const d of delays) expect(d).toBeLessThan(1000);
    } finally {
      await informer.stop();
    }
  }, 30_000);

  test('a server that fails watches at once still meets a growing backoff', async () => {
    const { informer, delays } = recordingInformer(1000);
    informer.start();
    try {
      await informer.waitForSync();
      await eventually(() => emulator.openWatches === 1, 'the watch');
      await sleep(1500);
      emulator.failNext({ pathPrefix: '/api/v1/namespaces', method: 'GET', status: 500, count: 3 });
      emulator.dropWatches('reset');
      await eventually(() => emulator.openWatches === 1 && delays.length === 4, 'the watch after three failed attempts');
      // The drop after a healthy watch is a first failure; the three immediate failures after it double the ceiling each time.
      expect(delays).toEqual([999, 1998, 3996, 7992]);
    } finally {
      await informer.stop();
    }
  }, 30_000);
});
