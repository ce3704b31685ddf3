/**
 * Prometheus metrics of the controller (prom-client, own registry).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.syncLag = new Histogram({
      name: 'cdktf_ces_sync_lag_seconds',
      help: 'Time from a change of a source list (pod, namespace or service event, or window edge) to the BIG-IP confirming the new membership',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60],
      registers,
    });
    this.pushes = new Counter({ name: 'cdktf_ces_pushes_total', help: 'Source-list pushes to the BIG-IP, by result (ok, error, unchanged)', labelNames: ['result'], registers });
    this.pushErrors = new Counter({ name: 'cdktf_ces_push_errors_total', help: 'Failed pushes by reason', labelNames: ['reason'], registers });
    this.members = new Gauge({ name: 'cdktf_ces_list_members', help: 'Members of each source list last confirmed on the BIG-IP', labelNames: ['list'], registers });
    this.gatedLists = new Gauge({ name: 'cdktf_ces_lists_gated', help: 'Source lists held empty because their rule is outside its time window or expired', registers });
    this.pendingLists = new Gauge({ name: 'cdktf_ces_lists_pending', help: 'Source lists waiting to be pushed', registers });
    this.leader = new Gauge({ name: 'cdktf_ces_leader', help: '1 while this replica holds the lease and pushes', registers });
    this.pods = new Gauge({ name: 'cdktf_ces_pods', help: 'Pods in the controller cache', registers });
    this.watchRestarts = new Counter({ name: 'cdktf_ces_watch_restarts_total', help: 'Watch reconnects and re-lists, by resource', labelNames: ['resource'], registers });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'cdktf_ces_' });
  }
}
