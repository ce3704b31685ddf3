/**
 * The flow-log intake of the controller (the `EgressController`'s `flowLogs` option): the
 * BIG-IP's high-speed-log pool points at a Service in front of the controller pods, each pod
 * receives AFM events on TCP and UDP, and writes them as JSON lines on stdout, with the pod,
 * namespace, node and Services that held the source address at the event's time and the rule
 * behind the AFM rule name.
 *
 * Every replica receives (the Service spreads the device's connections), leader or not: the
 * standby's informer caches are as current as the leader's, and intake must not stop during a
 * leader change. The address history is fed by the same pod and Service informers that drive the
 * source lists, so it costs no extra watch.
 */
import type { Registry } from 'prom-client';
import { AddressHistory, PodIdentity } from '../flowlog/history';
import { RuleDirectory, historyKey } from '../flowlog/enrich';
import { FlowMetrics, FlowReceiver } from '../flowlog/receiver';
import type { PodInfo, ServiceInfo } from '../policy/membership';
import { serviceSelects } from '../policy/membership';
import type { SyncPlan } from '../policy/plan';
import type { Clock } from '../clients/clock';

export interface FlowLogIntakeOptions {
  readonly plan: SyncPlan;
  /** TCP and UDP port the receiver listens on (all addresses, IPv4 and IPv6). */
  readonly port: number;
  /** Most JSON lines queued for stdout before TCP reads pause and UDP datagrams drop. */
  readonly queueLimit?: number;
  readonly registry: Registry;
  readonly clock: Clock;
  /** The pods and Services of a namespace (the controller's informer caches). */
  readonly podsInNamespace: (namespace: string) => Iterable<PodInfo>;
  readonly servicesInNamespace: (namespace: string) => Iterable<ServiceInfo>;
  readonly output?: NodeJS.WritableStream;
}

/**
 * The identity a pod's addresses are recorded with; no addresses for a pod that holds none of its
 * own. A pod of a namespace in a route domain of its own records `ip%id` (see `historyKey`).
 */
export function podIdentity(pod: PodInfo, services: Iterable<ServiceInfo>, routeDomain?: number): PodIdentity {
  // A finished pod's status keeps its address, which the network may already have given to a
  // new pod; a host-network pod's address is its node's. Neither is the pod's own. A terminating
  // pod still sends traffic during its grace period, so it keeps its address until deleted.
  const holds = !pod.hostNetwork && pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
  const selecting: string[] = [];
  for (const s of services) if (serviceSelects(s, pod)) selecting.push(s.name);
  return {
    namespace: pod.namespace,
    name: pod.name,
    ips: holds ? pod.ips.map((ip) => historyKey(ip, routeDomain)) : [],
    ...(pod.node !== undefined ? { node: pod.node } : {}),
    services: selecting,
  };
}

export class FlowLogIntake {
  readonly history = new AddressHistory();
  readonly receiver: FlowReceiver;
  /** Namespaces in route domains of their own, by name. */
  private readonly routeDomainOf: ReadonlyMap<string, number>;

  constructor(private readonly options: FlowLogIntakeOptions) {
    this.routeDomainOf = new Map((options.plan.namespaceRouteDomains ?? []).map((m) => [m.namespace, m.routeDomain]));
    this.receiver = new FlowReceiver({
      ownRouteDomains: new Set(this.routeDomainOf.values()),
      history: this.history,
      rules: RuleDirectory.fromPlan(options.plan),
      output: options.output ?? process.stdout,
      queueLimit: options.queueLimit,
      metrics: new FlowMetrics(options.registry),
    });
  }

  podChanged(pod: PodInfo): void {
    this.history.podUpdated(
      this.options.clock.now(),
      podIdentity(pod, this.options.servicesInNamespace(pod.namespace), this.routeDomainOf.get(pod.namespace)),
    );
  }

  podDeleted(namespace: string, name: string): void {
    this.history.podDeleted(this.options.clock.now(), { namespace, name });
  }

  /** A Service changed or went: the pods of its namespace are recorded again with their Services from now on. */
  serviceChanged(namespace: string): void {
    for (const pod of this.options.podsInNamespace(namespace)) this.podChanged(pod);
  }

  async listen(): Promise<{ tcpPort?: number; udpPort?: number }> {
    // `::` takes IPv4 too (IPV6_V6ONLY is off by default on Linux): one listener for dual-stack clusters.
    return this.receiver.listen({ host: '::', tcpPort: this.options.port, udpPort: this.options.port });
  }

  close(): Promise<void> {
    return this.receiver.close();
  }
}
