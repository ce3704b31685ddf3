/**
 * Rule CR status: `kubectl get afmcgr,afmngr,afmsgr` shows whether each rule is in force on the
 * BIG-IP, with how many pod addresses, since when, and why not.
 *
 * Status describes what the firewall enforces, which is the plan of the last `cdktf deploy`,
 * not whatever the CR says now: a CR whose spec differs from the plan's copy (edited by hand,
 * or a deploy under way) is Ready=False/SpecNotDeployed, and `status.observedGeneration` is the
 * newest generation seen whose spec equals the plan's (it does not advance with an edit).
 * Each condition's observedGeneration is the generation it was computed for.
 *
 * The desired status of each rule is derived from its source list's state; a patch is sent
 * only when it changes (lastTransitionTime kept while a condition holds), a few at a time.
 */
import { PlanRule, SyncPlan, memberListsOf } from '../policy/plan';
import { Clock, systemClock } from '../clients/clock';
import type { Logger } from './log';
import type { DeviceCheckResult } from './device-check';
import type { ListState } from './sync/list-reconciler';

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface RuleStatus {
  readonly observedGeneration?: number;
  readonly members?: number;
  readonly lastSyncTime?: string;
  readonly windowOpen?: boolean;
  readonly conditions: Condition[];
}

/** What the reporter knows of a rule CR in the cluster (from the rule informers). */
export interface RuleObject {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  /** Tells a re-created CR (its generations start again) from the one before. */
  readonly uid?: string;
  readonly generation?: number;
  /** `ruleSpecDigest` of the CR's spec, compared with the plan's. */
  readonly specDigest: string;
}

/** The informer cache key of a rule CR, by kind. */
export function ruleKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? ''}/${name}`;
}

export interface StatusWriter {
  patchStatus(rule: PlanRule, status: RuleStatus): Promise<void>;
}

export interface StatusReporterOptions {
  readonly plan: SyncPlan;
  readonly listState: (path: string) => ListState | undefined;
  readonly ruleObject: (rule: PlanRule) => RuleObject | undefined;
  readonly writer: StatusWriter;
  readonly log: Logger;
  /** Whether the controller has listed everything it watches. */
  readonly synced: () => boolean;
  /** The leader's last read-back of the device; adds the DeviceVerified condition. */
  readonly deviceCheck?: () => DeviceCheckResult | undefined;
  readonly concurrency?: number;
  readonly intervalMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

type Ready = Omit<Condition, 'type' | 'lastTransitionTime' | 'observedGeneration'>;

/** The Ready condition of a rule from its list's state. */
export function readyCondition(
  list: ListState | undefined,
  synced: boolean,
  gated: { schedule: boolean; expiresAt?: string },
  now: number,
  deployed: { matches: boolean; generation?: number; enforcedGeneration?: number } = { matches: true },
): Ready {
  if (!synced)
    return { status: 'False', reason: 'WaitingForCaches', message: 'the controller is still listing pods, namespaces and services' };
  if (!deployed.matches) {
    const edited = deployed.generation !== undefined ? `the spec of generation ${deployed.generation}` : 'the spec';
    const enforced =
      deployed.enforcedGeneration !== undefined ? `generation ${deployed.enforcedGeneration}` : 'the spec of the last deploy';
    return {
      status: 'False',
      reason: 'SpecNotDeployed',
      message: `${edited} differs from the deployed plan; the firewall enforces ${enforced}. Run cdktf deploy, or undo the edit`,
    };
  }
  if (!list)
    return {
      status: 'False',
      reason: 'NotInPlan',
      message: "the rule's source list is not in the controller's plan; deploy the stack again",
    };
  if (list.lastError && list.pending) {
    return list.lastError.terminal
      ? { status: 'False', reason: 'BigipRejected', message: `the BIG-IP refused the update: ${list.lastError.message}` }
      : { status: 'False', reason: 'BigipRetrying', message: `the BIG-IP update failed and is retried: ${list.lastError.message}` };
  }
  if (list.pushed === undefined) return { status: 'False', reason: 'Pending', message: 'waiting for the first push of the source list' };
  if (!list.active) {
    return gated.expiresAt && now >= Date.parse(gated.expiresAt)
      ? {
          status: 'True',
          reason: 'Expired',
          message: `the rule expired at ${gated.expiresAt}; its source list is empty. Delete the rule or renew its expiresAt`,
        }
      : {
          status: 'True',
          reason: 'WindowClosed',
          message: 'outside the rule time window: its source list is empty until the window opens',
        };
  }
  if (list.pending)
    return {
      status: 'True',
      reason: 'Updating',
      message: `in force with ${list.pushed} pod addresses; a membership change is being pushed`,
    };
  return { status: 'True', reason: 'Synced', message: `in force with ${list.pushed} pod addresses` };
}

/** At most this many problem lines in a condition message. */
const MAX_PROBLEM_LINES = 5;

/**
 * The DeviceVerified condition of a rule: its source list and the contexts (every rule
 * depends on them) as the last device check found them.
 */
export function deviceVerifiedCondition(result: DeviceCheckResult | undefined, sourceList: string): Ready {
  if (!result) return { status: 'Unknown', reason: 'NotChecked', message: 'the device has not been read back yet' };
  const mine = result.problems.filter((p) => p.list === undefined || p.list === sourceList);
  if (!mine.length)
    return {
      status: 'True',
      reason: 'Verified',
      message: "the BIG-IP holds the rule's source list, the context attachments and the resolver as planned",
    };
  const kinds = new Set(mine.map((p) => p.kind));
  const context = kinds.has('route-domain') || kinds.has('attachment') || kinds.has('fqdn-resolver');
  const reason =
    kinds.has('device') && kinds.size === 1
      ? 'DeviceUnreadable'
      : kinds.has('as3-task')
        ? 'DeployFailed'
        : context
          ? 'ContextDrift'
          : 'ListDrift';
  const lines = mine.slice(0, MAX_PROBLEM_LINES).map((p) => p.message);
  if (mine.length > MAX_PROBLEM_LINES) lines.push(`and ${mine.length - MAX_PROBLEM_LINES} more`);
  return { status: 'False', reason, message: lines.join(' | ') };
}

export class StatusReporter {
  private readonly written = new Map<string, { key: string; status: RuleStatus }>();
  /** By rule key: the CR's newest generation seen whose spec equals the plan's. */
  private readonly enforced = new Map<string, { uid?: string; generation: number }>();
  private cancelNext?: () => void;
  private running = false;
  private busy?: Promise<void>;
  private readonly clock: Clock;
  private readonly lists: Map<string, SyncPlan['lists'][number]>;
  private readonly rules: Map<string, PlanRule>;

  constructor(private readonly options: StatusReporterOptions) {
    this.clock = options.clock ?? systemClock;
    this.lists = new Map(options.plan.lists.map((l) => [l.path, l]));
    this.rules = new Map(options.plan.rules.map((r) => [ruleKey(r.kind, r.namespace, r.name), r]));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      this.busy = this.flush()
        .then(() => undefined)
        .finally(() => {
          if (this.running) this.cancelNext = this.clock.schedule(this.options.intervalMs ?? 2000, tick);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelNext?.();
    await this.busy;
  }

  /**
   * Takes note of a rule CR as the informer delivers it (standby replicas too): the generation
   * the firewall enforces is the newest one seen with the plan's spec, which a later edit does
   * not show.
   */
  observe(object: RuleObject): void {
    const rule = this.rules.get(ruleKey(object.kind, object.namespace, object.name));
    if (rule && object.generation !== undefined && object.specDigest === rule.specDigest)
      this.enforced.set(rule.key, { uid: object.uid, generation: object.generation });
  }

  /** The status a rule should have now. */
  desired(rule: PlanRule): RuleStatus {
    const list = this.lists.get(rule.sourceList);
    const state = this.options.listState(rule.sourceList);
    const now = this.clock.now();
    const object = this.options.ruleObject(rule);
    const generation = object?.generation;
    const matches = !object || object.specDigest === rule.specDigest;
    const seen = this.enforced.get(rule.key);
    const enforcedGeneration = seen && seen.uid === object?.uid ? seen.generation : undefined;
    // A rule that matches the pod CIDRs themselves has no list to sync: in force once deployed
    // (unless its CR was edited: then it says what is not deployed, as any other rule does).
    const ready =
      matches && memberListsOf(rule).length === 0
        ? ({
            status: 'True',
            reason: 'PodCidrs',
            message: 'in force: the rule matches the pod CIDRs themselves, with no list to sync',
          } as const)
        : readyCondition(state, this.options.synced(), { schedule: !!list?.schedule, expiresAt: list?.expiresAt }, now, {
            matches,
            generation,
            enforcedGeneration,
          });
    const previous = this.written.get(rule.key)?.status.conditions.find((c) => c.type === 'Ready');
    const condition: Condition = {
      type: 'Ready',
      ...ready,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime:
        previous && previous.status === ready.status && previous.reason === ready.reason
          ? previous.lastTransitionTime
          : new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    const conditions = [condition];
    if (this.options.deviceCheck) {
      const verified = deviceVerifiedCondition(this.options.deviceCheck(), rule.sourceList);
      const before = this.written.get(rule.key)?.status.conditions.find((c) => c.type === 'DeviceVerified');
      conditions.push({
        type: 'DeviceVerified',
        ...verified,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
        lastTransitionTime:
          before && before.status === verified.status && before.reason === verified.reason
            ? before.lastTransitionTime
            : new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    }
    return {
      // Left out while unknown (an edit seen before any matching generation): a merge patch then
      // keeps the value written before.
      ...(enforcedGeneration !== undefined ? { observedGeneration: enforcedGeneration } : {}),
      ...(state?.pushed !== undefined ? { members: state.pushed } : {}),
      ...(state?.lastSyncAt !== undefined ? { lastSyncTime: new Date(state.lastSyncAt).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
      ...(list?.schedule ? { windowOpen: !!state?.active } : {}),
      conditions,
    };
  }

  /** Patches every rule whose status changed; a few requests at a time. */
  async flush(): Promise<number> {
    const changed: { rule: PlanRule; status: RuleStatus; key: string }[] = [];
    for (const rule of this.options.plan.rules) {
      if (!this.options.ruleObject(rule)) continue; // Not (yet) in the cluster.
      const status = this.desired(rule);
      // lastTransitionTime only moves with the condition, so it is part of the comparison.
      const key = JSON.stringify(status);
      if (this.written.get(rule.key)?.key !== key) changed.push({ rule, status, key });
    }
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < changed.length && this.running) {
        const item = changed[next++];
        try {
          await this.options.writer.patchStatus(item.rule, item.status);
          this.written.set(item.rule.key, { key: item.key, status: item.status });
          done++;
        } catch (e) {
          this.options.log.warn('status update failed; retried on the next pass', { rule: item.rule.key, error: (e as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 4 }, worker));
    return done;
  }
}
