/**
 * The leader's read-back of the device: every check interval (jittered), right after it starts
 * leading and after the client logged in again, it reads the BIG-IP and compares it with the
 * plan.
 *
 * - Source lists are the controller's: a list whose nodes differ from what was last confirmed
 *   (AS3 re-created it with its placeholder `::1:5ee:bad:c0de`, someone edited it) is pushed
 *   again. A re-login means the device may have restarted, which resets lists to the saved
 *   configuration while the service-discovery task still reports the pushed nodes, so every
 *   list is pushed again then.
 * - Route domains, context attachments and the FQDN resolver are Terraform's: a difference is
 *   reported (rule status, metric, log), never repaired.
 * - The newest finished AS3 task with a result for the device's tenant: a failed result is
 *   reported. terraform apply can miss it (the bigip provider reads only the first results of
 *   a task), and only a deploy can fix it.
 *
 * The comparisons are those of `cdktf-ces verify`.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { PlanDeviceContext, SyncPlan } from '../policy/plan';
import { DeviceContextExpectation, checkAs3Tasks, checkAttachments, checkFqdnResolver, checkRouteDomains } from '../verify/checks';
import type { VerifyProblem } from '../verify/checks';
import type { As3TaskRecord, DeviceReader } from '../verify/reader';
import { Clock, systemClock } from '../clients/clock';
import type { Logger } from './log';

/** A difference between the device and the plan. */
export interface DeviceProblem {
  /** `address-list`, `route-domain`, `attachment`, `fqdn-resolver`, `as3-task` or `device` (a read failed). */
  readonly kind: string;
  /** What on the device: a list path, a context. */
  readonly where: string;
  /** One line: expected, found, what the controller did. */
  readonly message: string;
  /** The list it concerns (its rules report it); undefined: every rule. */
  readonly list?: string;
}

export interface DeviceCheckResult {
  readonly problems: readonly DeviceProblem[];
  readonly checkedAt: number;
}

export interface DeviceCheckTarget {
  /** Members last confirmed on the device, as it shows them; undefined while a push is due. */
  confirmedMembers(path: string): readonly string[] | undefined;
  repush(paths: Iterable<string>): void;
}

export interface DeviceCheckerOptions {
  readonly plan: SyncPlan;
  readonly reader: DeviceReader;
  readonly target: DeviceCheckTarget;
  /** Logins of the BIG-IP client so far: a new one after the first check means a reconnect. */
  readonly logins: () => number;
  readonly intervalMs: number;
  readonly log: Logger;
  readonly registry: Registry;
  readonly random?: () => number;
  /** @default systemClock */
  readonly clock?: Clock;
}

const KINDS = ['address-list', 'route-domain', 'attachment', 'fqdn-resolver', 'as3-task', 'device'] as const;

/**
 * The fields of `ExpectedDevice` that the checks below read, from the plan: the controller has
 * no synth output. It has no declaration ids either, so any task result for the tenant counts
 * (`declarationIds` empty); route domains are checked by path (`routeDomainIds` empty: the
 * context's route domain is the one the addresses name).
 */
function expectedOf(plan: SyncPlan, context: PlanDeviceContext): DeviceContextExpectation {
  return {
    label: `${plan.cluster}/${plan.tenant}`,
    tenant: plan.tenant,
    sharedPrefixes: [...new Set([context.owner, plan.tenant])].map((o) => `${o}_`),
    usesFqdns: context.usesFqdns,
    declarationIds: {},
    routeDomainIds: [],
    context: {
      global: context.global,
      routeDomains: context.routeDomains,
      ...(context.dnsResolver !== undefined ? { dnsResolver: context.dnsResolver } : {}),
    },
  };
}

/**
 * The tasks as far as they concern `tenant`: `checkAs3Tasks` also reads Common, whose newest
 * deploy may be another tenant's (without declaration ids the controller cannot tell).
 */
function tasksOfTenant(tasks: readonly As3TaskRecord[], tenant: string): As3TaskRecord[] {
  const names = (t: string | readonly string[] | undefined) => (t === undefined ? [] : typeof t === 'string' ? [t] : t);
  return tasks
    .map((t) => ({ ...t, results: t.results.filter((r) => names(r.tenant).includes(tenant)) }))
    .filter((t) => t.results.length > 0);
}

function problemOf(p: VerifyProblem): DeviceProblem {
  return {
    kind: p.check,
    where: p.where,
    message: `${p.where}: expected ${p.expected}; found ${p.found.replace(/\.$/, '')}. Fix: ${p.fix}`,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

export class DeviceChecker {
  readonly problemsGauge: Gauge<'kind'>;
  readonly repairs: Counter<'reason'>;
  private last?: DeviceCheckResult;
  private reported = new Map<string, DeviceProblem>();
  private loginsSeen?: number;
  private cancelNext?: () => void;
  private running = false;
  private busy?: Promise<DeviceCheckResult>;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly expected?: DeviceContextExpectation;

  constructor(private readonly options: DeviceCheckerOptions) {
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    const registers = [options.registry];
    this.problemsGauge = new Gauge({
      name: 'cdktf_ces_device_problems',
      help: 'Differences between the BIG-IP and the plan found by the last device check, by kind (address-list, route-domain, attachment, fqdn-resolver, as3-task, device: a read failed)',
      labelNames: ['kind'],
      registers,
    });
    this.repairs = new Counter({
      name: 'cdktf_ces_device_repairs_total',
      help: 'Source lists pushed again because the device no longer held what was pushed, by reason (list-drift, relogin)',
      labelNames: ['reason'],
      registers,
    });
    for (const kind of KINDS) this.problemsGauge.set({ kind }, 0);
    if (options.plan.context) this.expected = expectedOf(options.plan, options.plan.context);
  }

  /** The last check's outcome; undefined before the first check. */
  get result(): DeviceCheckResult | undefined {
    return this.last;
  }

  /** Checks now, then every interval (±20 %) until stopped. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loginsSeen = undefined;
    const tick = () => {
      if (!this.running) return;
      void this.check().finally(() => {
        if (!this.running) return;
        const ms = this.options.intervalMs * (0.8 + 0.4 * this.random());
        this.cancelNext = this.clock.schedule(ms, tick);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelNext?.();
    await this.busy?.catch(() => undefined);
    // A follower reports nothing: what it would find is the leader's to repair.
    this.last = undefined;
  }

  /** One check (one at a time); repairs lists, reports the rest. */
  check(): Promise<DeviceCheckResult> {
    this.busy ??= this.run().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  private async run(): Promise<DeviceCheckResult> {
    const { plan, reader, target, log } = this.options;
    const problems: DeviceProblem[] = [];
    const readFailed = (what: string, e: unknown) =>
      problems.push({ kind: 'device', where: what, message: `${what}: could not be read: ${e instanceof Error ? e.message : String(e)}` });

    const drifted: string[] = [];
    for (const list of plan.lists) {
      const before = target.confirmedMembers(list.path);
      if (before === undefined) continue; // a push is due anyway
      let nodes: string[] | undefined;
      try {
        nodes = await reader.listNodes(list.taskId);
      } catch (e) {
        readFailed(`list ${list.path}`, e);
        continue;
      }
      // A push that finished during the read changed what to compare with: next time.
      const after = target.confirmedMembers(list.path);
      if (after === undefined || !sameSet(before, after)) continue;
      if (nodes === undefined) {
        problems.push({
          kind: 'address-list',
          where: list.path,
          list: list.path,
          message: `${list.path}: no such event-driven list on the device; the declaration that defines it did not take effect: run "cdktf deploy" again`,
        });
      } else if (!sameSet(nodes, after)) {
        drifted.push(list.path);
        problems.push({
          kind: 'address-list',
          where: list.path,
          list: list.path,
          message: `${list.path}: expected the ${after.length} address(es) last pushed; found ${nodes.length} (${nodes.slice(0, 3).join(', ')}${nodes.length > 3 ? ', ...' : ''}); pushing it again`,
        });
      }
    }

    if (this.expected) {
      try {
        const [global, routeDomains] = await Promise.all([reader.globalRules(), reader.routeDomains()]);
        const ours = new Set(plan.context?.routeDomains.map((rd) => rd.path));
        problems.push(...checkRouteDomains(this.expected, routeDomains).map(problemOf));
        problems.push(
          ...checkAttachments(
            this.expected,
            global,
            routeDomains.filter((rd) => ours.has(rd.path)),
          ).map(problemOf),
        );
      } catch (e) {
        readFailed('the firewall context attachments', e);
      }
      try {
        // A task still running is the deploy's business (verify warns of it); failures only.
        const failed = checkAs3Tasks(this.expected, tasksOfTenant(await reader.as3Tasks(), plan.tenant)).filter(
          (p) => p.severity === 'error',
        );
        problems.push(...failed.map(problemOf));
      } catch (e) {
        readFailed('the AS3 tasks', e);
      }
      if (this.expected.usesFqdns) {
        try {
          problems.push(...checkFqdnResolver(this.expected, await reader.fqdnResolver()).map(problemOf));
        } catch (e) {
          readFailed('the global FQDN policy', e);
        }
      }
    }

    // A login since the last check: the session was lost, perhaps because the device restarted.
    const logins = this.options.logins();
    const relogin = this.loginsSeen !== undefined && logins > this.loginsSeen;
    this.loginsSeen = logins;
    if (relogin) {
      log.warn('logged in to the BIG-IP again; pushing every source list again (a restart resets lists to the saved configuration)', {
        lists: plan.lists.length,
      });
      this.repairs.inc({ reason: 'relogin' }, plan.lists.length);
      target.repush(plan.lists.map((l) => l.path));
    } else if (drifted.length) {
      this.repairs.inc({ reason: 'list-drift' }, drifted.length);
      target.repush(drifted);
    }

    this.report(problems);
    this.last = { problems, checkedAt: this.clock.now() };
    return this.last;
  }

  /** Metric by kind, and one log line per problem that appeared or went away. */
  private report(problems: readonly DeviceProblem[]): void {
    const { log } = this.options;
    for (const kind of KINDS) this.problemsGauge.set({ kind }, problems.filter((p) => p.kind === kind).length);
    const now = new Map(problems.map((p) => [`${p.kind} ${p.message}`, p]));
    for (const [key, p] of now)
      if (!this.reported.has(key)) log.warn('device differs from the plan', { kind: p.kind, where: p.where, problem: p.message });
    for (const [key, p] of this.reported) if (!now.has(key)) log.info('device difference resolved', { kind: p.kind, where: p.where });
    this.reported = now;
  }
}
