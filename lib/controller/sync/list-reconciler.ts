/**
 * The reconciler of one device's source lists: cluster events in, source-list pushes out.
 *
 * In controller-runtime's terms: the informers' handlers update the membership index (derived
 * from the informer caches) and add the keys of the touched lists to the workqueue
 * (`ListWorkqueue`: coalesces, orders, paces by the device and requeues failures with backoff); reconciling a
 * key pushes the list's full desired membership. Time-windowed and expiring lists are gated
 * here: outside their window their desired membership is empty (the rule matches nothing), and
 * each is requeued at its next window edge or expiry (`Result{RequeueAfter}`), not polled.
 * Nothing is pushed until `activate()` (the informers have listed everything and this replica
 * leads): a list the controller has not filled stays empty on the device, so it matches
 * nothing (fail closed).
 */
import type { NamespaceInfo, PodInfo, ServiceInfo } from '../../policy/membership';
import { listActive } from '../../policy/membership';
import { EMPTY_LIST_PLACEHOLDER } from '../../clients/bigip/client';
import { Clock, systemClock } from '../../clients/clock';
import type { PlanList, SyncPlan } from '../../policy/plan';
import { deviceMember } from '../../policy/route-domains';
import { ListChanges, MembershipIndex, PodCache } from './membership-index';
import { PacingState, PushOutcome, ListWorkqueue } from './workqueue';
import { nextGateChange } from './time-edges';

/** What the reconciler needs from a BIG-IP client. */
export interface ListMembersTarget {
  /** `retry: false`: the workqueue owns the retries of a push. */
  replaceListMembers(
    taskId: string,
    ips: readonly string[],
    routeDomain: number,
    options: { readonly retry: boolean; readonly ownRouteDomains?: boolean },
  ): Promise<unknown>;
}

/**
 * Longest delayed requeue of a gated list: a step of the wall clock (the timers run on a
 * monotonic clock) is corrected within this time.
 */
export const MAX_GATE_REQUEUE_MS = 3_600_000;

export interface ListState {
  readonly path: string;
  /** Inside its window and not expired (always true for ungated lists). */
  readonly active: boolean;
  /** Members the list should have now. */
  readonly desired: number;
  /** Members last confirmed on the device, if any push succeeded. */
  readonly pushed?: number;
  readonly lastSyncAt?: number;
  readonly lastError?: { readonly message: string; readonly terminal: boolean; readonly at: number };
  readonly pending: boolean;
}

export interface ListReconcilerOptions {
  readonly plan: SyncPlan;
  /** The pod informer's cache, the only copy of the pods. */
  readonly pods: PodCache;
  readonly target: ListMembersTarget;
  readonly coalesceMs?: number;
  readonly maxPushesInFlight?: number;
  readonly maxDeviceBusyPercent?: number;
  /** @deprecated a fixed ceiling on top of the pacing; see ListWorkqueueOptions */
  readonly maxPushesPerSecond?: number;
  readonly isTerminal?: (error: unknown) => boolean;
  readonly onOutcome?: (outcome: PushOutcome) => void;
  /** @default systemClock */
  readonly clock?: Clock;
}

interface Tracked {
  active: boolean;
  pushed?: number;
  lastSyncAt?: number;
  lastError?: { message: string; terminal: boolean; at: number };
}

export class ListReconciler {
  readonly index: MembershipIndex;
  private readonly queue: ListWorkqueue;
  private readonly lists = new Map<string, PlanList>();
  private readonly tracked = new Map<string, Tracked>();
  /** Cancels the delayed requeue of each gated list, while leading. */
  private readonly gateRequeues = new Map<string, () => void>();
  private readonly clock: Clock;
  private active = false;

  constructor(private readonly options: ListReconcilerOptions) {
    this.clock = options.clock ?? systemClock;
    this.index = new MembershipIndex(options.plan, options.pods);
    const at = new Date(this.clock.now());
    for (const list of options.plan.lists) {
      this.lists.set(list.path, list);
      this.tracked.set(list.path, { active: listActive(list, at) });
    }
    this.queue = new ListWorkqueue({
      target: { push: (path, members) => this.push(path, members) },
      desired: (path) => this.desired(path),
      onOutcome: (o) => this.record(o),
      coalesceMs: options.coalesceMs,
      maxPushesInFlight: options.maxPushesInFlight,
      maxDeviceBusyPercent: options.maxDeviceBusyPercent,
      maxPushesPerSecond: options.maxPushesPerSecond,
      isTerminal: options.isTerminal,
      clock: this.clock,
    });
  }

  get plan(): SyncPlan {
    return this.options.plan;
  }

  /** Lists whose window is closed or which expired (their desired membership is empty). */
  get gatedLists(): number {
    let n = 0;
    for (const t of this.tracked.values()) if (!t.active) n++;
    return n;
  }

  get pendingLists(): number {
    return this.queue.pending;
  }

  /** What the push pacing allows and uses now. */
  get pacing(): PacingState {
    return this.queue.pacing;
  }

  desired(path: string): readonly string[] {
    return this.tracked.get(path)?.active ? this.index.desired(path) : [];
  }

  upsertPod(pod: PodInfo): void {
    this.mark(this.index.upsertPod(pod));
  }

  deletePod(namespace: string, name: string): void {
    this.mark(this.index.deletePod(namespace, name));
  }

  upsertNamespace(ns: NamespaceInfo): void {
    this.mark(this.index.upsertNamespace(ns.name, ns.labels));
  }

  deleteNamespace(name: string): void {
    this.mark(this.index.deleteNamespace(name));
  }

  upsertService(service: ServiceInfo): void {
    this.mark(this.index.upsertService(service));
  }

  deleteService(namespace: string, name: string): void {
    this.mark(this.index.deleteService(namespace, name));
  }

  /**
   * Re-evaluates a gated list's window and expiry now (a list that closes is a removal) and
   * requeues it at its next edge.
   */
  private reconcileGate(path: string): void {
    this.gateRequeues.get(path)?.();
    this.gateRequeues.delete(path);
    const list = this.lists.get(path) as PlanList;
    const t = this.tracked.get(path) as Tracked;
    const now = this.clock.now();
    const active = listActive(list, new Date(now));
    if (active !== t.active) {
      t.active = active;
      this.queue.markDirty(path, !active);
    }
    const edge = nextGateChange(list, now);
    if (this.active && edge !== undefined)
      this.gateRequeues.set(
        path,
        this.clock.schedule(Math.min(edge - now, MAX_GATE_REQUEUE_MS), () => this.reconcileGate(path)),
      );
  }

  /**
   * Starts pushing: every list is pushed once (the device may hold members from before this
   * replica led), then as changes come.
   */
  activate(): void {
    if (this.active) return;
    this.active = true;
    for (const [path, list] of this.lists) if (list.schedule || list.expiresAt) this.reconcileGate(path);
    this.queue.invalidate(this.lists.keys());
    this.queue.start();
  }

  /** Stops pushing (lost leadership or shutting down); waits for the push in flight. */
  async deactivate(): Promise<void> {
    this.active = false;
    for (const cancel of this.gateRequeues.values()) cancel();
    this.gateRequeues.clear();
    await this.queue.stop();
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Resolves when no list is waiting (tests, demo, graceful shutdown). */
  idle(timeoutMs?: number): Promise<boolean> {
    return this.queue.idle(timeoutMs);
  }

  /**
   * What was last confirmed on the device for a list, as the device shows it (`ip%rd`, AS3's
   * placeholder when empty); undefined before the first push or while a push is due.
   */
  confirmedMembers(path: string): readonly string[] | undefined {
    const pushed = this.queue.lastPushed(path);
    const state = this.listState(path);
    if (pushed === undefined || !state || state.pending) return undefined;
    return deviceMembers(pushed, this.options.plan.routeDomain);
  }

  /**
   * Pushes lists again although their desired membership is unchanged: the device lost what
   * was pushed (AS3 re-created the list, a restart reset it to the saved configuration).
   */
  repush(paths: Iterable<string>): void {
    if (!this.active) return;
    this.queue.invalidate([...paths].filter((p) => this.lists.has(p)));
  }

  listState(path: string): ListState | undefined {
    const t = this.tracked.get(path);
    if (!t) return undefined;
    return {
      path,
      active: t.active,
      desired: this.desired(path).length,
      pushed: t.pushed,
      lastSyncAt: t.lastSyncAt,
      lastError: t.lastError,
      pending: this.queue.lastPushed(path) === undefined || this.desired(path).join(',') !== (this.queue.lastPushed(path) ?? []).join(','),
    };
  }

  private mark(changes: ListChanges): void {
    for (const [path, c] of changes) {
      // A gated list's desired membership is empty whatever its pods do.
      if (this.tracked.get(path)?.active) this.queue.markDirty(path, c.removed);
    }
  }

  private async push(path: string, members: readonly string[]): Promise<void> {
    const list = this.lists.get(path) as PlanList;
    // Pods of namespaces with route domains of their own are members `ip%id` (see membership-index.ts).
    const ownRouteDomains = this.options.plan.namespaceRouteDomains !== undefined;
    await this.options.target.replaceListMembers(list.taskId, members, this.options.plan.routeDomain, {
      retry: false,
      ...(ownRouteDomains ? { ownRouteDomains } : {}),
    });
  }

  private record(outcome: PushOutcome): void {
    const t = this.tracked.get(outcome.path);
    if (t) {
      if (outcome.ok) {
        t.pushed = outcome.members;
        t.lastSyncAt = outcome.finishedAt;
        t.lastError = undefined;
      } else {
        t.lastError = {
          message: outcome.error instanceof Error ? outcome.error.message : String(outcome.error),
          terminal: !!outcome.terminal,
          at: outcome.finishedAt,
        };
      }
    }
    this.options.onOutcome?.(outcome);
  }
}

/**
 * Members as the device holds them after a push: `ip%rd` outside route domain 0 (a pod of a
 * namespace with a route domain of its own carries its own already), the placeholder for none.
 */
export function deviceMembers(ips: readonly string[], routeDomain: number): string[] {
  if (ips.length === 0) return [EMPTY_LIST_PLACEHOLDER];
  return ips.map((ip) => deviceMember(ip, routeDomain));
}
