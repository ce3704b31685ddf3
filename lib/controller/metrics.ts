/**
 * Prometheus metrics of the controller (prom-client, own registry).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PacingState } from './sync/workqueue';

/** What the state gauges show, read at scrape time. */
export interface ControllerState {
  readonly gatedLists: number;
  readonly pendingLists: number;
  readonly leading: boolean;
  readonly pods: number;
}

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly syncLag: Histogram;
  readonly pushes: Counter<'result'>;
  readonly pushErrors: Counter<'reason'>;
  readonly members: Gauge<'list'>;
  readonly gatedLists: Gauge;
  readonly pendingLists: Gauge;
  readonly leader: Gauge;
  readonly pods: Gauge;
  readonly watchRestarts: Counter<'resource'>;
  readonly pushWindow: Gauge;
  readonly pushesInFlight: Gauge;
  readonly deviceShareAllowed: Gauge;
  readonly deviceBusy: Gauge;
  readonly pushDeviceSeconds: Gauge;
  readonly paceDecreases: Counter<'cause'>;
  private pacing?: () => PacingState;
  private readonly decreasesSeen = { latency: 0, overload: 0 };
  private state?: () => ControllerState;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.syncLag = new Histogram({
      name: 'cdktf_ces_sync_lag_seconds',
      help: 'Time from a change of a source list (pod, namespace or service event, or window edge) to the BIG-IP confirming the new membership',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
      registers,
    });
    this.pushes = new Counter({
      name: 'cdktf_ces_pushes_total',
      help: 'Source-list pushes to the BIG-IP, by result (ok, error, unchanged)',
      labelNames: ['result'],
      registers,
    });
    this.pushErrors = new Counter({
      name: 'cdktf_ces_push_errors_total',
      help: 'Failed pushes by reason',
      labelNames: ['reason'],
      registers,
    });
    this.members = new Gauge({
      name: 'cdktf_ces_list_members',
      help: 'Members of each source list last confirmed on the BIG-IP',
      labelNames: ['list'],
      registers,
    });
    // The controller's state, read at scrape time (see bindState).
    const state = (gauge: () => Gauge, value: (s: ControllerState) => number) => () => {
      if (this.state) gauge().set(value(this.state()));
    };
    this.gatedLists = new Gauge({
      name: 'cdktf_ces_lists_gated',
      help: 'Source lists held empty because their rule is outside its time window or expired',
      registers,
      collect: state(
        () => this.gatedLists,
        (s) => s.gatedLists,
      ),
    });
    this.pendingLists = new Gauge({
      name: 'cdktf_ces_lists_pending',
      help: 'Source lists waiting to be pushed',
      registers,
      collect: state(
        () => this.pendingLists,
        (s) => s.pendingLists,
      ),
    });
    this.leader = new Gauge({
      name: 'cdktf_ces_leader',
      help: '1 while this replica holds the lease and pushes',
      registers,
      collect: state(
        () => this.leader,
        (s) => (s.leading ? 1 : 0),
      ),
    });
    this.pods = new Gauge({
      name: 'cdktf_ces_pods',
      help: 'Pods in the controller cache',
      registers,
      collect: state(
        () => this.pods,
        (s) => s.pods,
      ),
    });
    this.watchRestarts = new Counter({
      name: 'cdktf_ces_watch_restarts_total',
      help: 'Watch reconnects and re-lists, by resource',
      labelNames: ['resource'],
      registers,
    });
    // The pacing's own state, read at scrape time (see bindPacing).
    const read = (gauge: () => Gauge, value: (p: PacingState) => number) => () => {
      if (this.pacing) gauge().set(value(this.pacing()));
    };
    this.pushWindow = new Gauge({
      name: 'cdktf_ces_push_window',
      help: 'List pushes the pacing allows in flight to the BIG-IP now',
      registers,
      collect: read(
        () => this.pushWindow,
        (p) => p.window,
      ),
    });
    this.pushesInFlight = new Gauge({
      name: 'cdktf_ces_pushes_in_flight',
      help: 'List pushes in flight to the BIG-IP',
      registers,
      collect: read(
        () => this.pushesInFlight,
        (p) => p.inFlight,
      ),
    });
    this.deviceShareAllowed = new Gauge({
      name: 'cdktf_ces_device_share_allowed_ratio',
      help: "Share of the BIG-IP control plane's time the pacing allows list pushes now (at most maxDeviceBusyPercent; lower after slow or 503 answers)",
      registers,
      collect: read(
        () => this.deviceShareAllowed,
        (p) => p.share,
      ),
    });
    this.deviceBusy = new Gauge({
      name: 'cdktf_ces_device_busy_ratio',
      help: 'Share of about the last 10 s with a list push outstanding at the BIG-IP; near cdktf_ces_device_share_allowed_ratio, the device sets the pace and lists wait for it',
      registers,
      collect: read(
        () => this.deviceBusy,
        (p) => p.busy,
      ),
    });
    this.pushDeviceSeconds = new Gauge({
      name: 'cdktf_ces_push_device_seconds',
      help: "The BIG-IP's time for the last list push",
      registers,
      collect: read(
        () => this.pushDeviceSeconds,
        (p) => p.lastDeviceMs / 1000,
      ),
    });
    this.paceDecreases = new Counter({
      name: 'cdktf_ces_pace_decreases_total',
      help: 'Times the pacing halved, by cause: latency (an answer over twice its usual time) or overload (503 or 429)',
      labelNames: ['cause'],
      registers,
      collect: () => {
        if (!this.pacing) return;
        const total = this.pacing().decreases;
        for (const cause of ['latency', 'overload'] as const) {
          if (total[cause] > this.decreasesSeen[cause]) this.paceDecreases.inc({ cause }, total[cause] - this.decreasesSeen[cause]);
          this.decreasesSeen[cause] = total[cause];
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'cdktf_ces_' });
  }

  /** Reports the controller's state at every scrape. */
  bindState(source: () => ControllerState): void {
    this.state = source;
  }

  /** Reports the push pacing of `source` (the list reconciler's) at every scrape. */
  bindPacing(source: () => PacingState): void {
    this.pacing = source;
  }
}
