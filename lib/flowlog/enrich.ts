/**
 * A parsed AFM event with Kubernetes names: the pod that held the source address at the
 * event's time (from {@link AddressHistory}) and the policy rule behind the AFM rule name
 * (names from `afmRuleName` in lib/policy/object-names.ts: `c_<name>_<protocol>`,
 * `n_<namespace>_<name>_<protocol>`, `s_<namespace>_<name>_<protocol>`).
 *
 * The output is one JSON object per event with stable field names (see {@link FlowRecord});
 * every string in it was checked by the parser or comes from the policy model, and
 * JSON.stringify escapes the rest, so a line cannot break the JSON-lines stream.
 */
import { afmRuleName, OBJECT } from '../policy/object-names';
import { Level, PolicyModel, ruleKey } from '../policy/model';
import type { SyncPlan } from '../policy/plan';
import type { AddressHistory } from './history';
import type { FlowAction, FlowEvent } from './parse';

export type FlowVerdict = 'allow' | 'deny' | 'reject';

export const FLOW_RECORD_FORMAT = 'cdktf-ces.dev/flow/v1';

/** The policy rule behind an AFM rule. */
export interface RuleAttribution {
  /** `cluster/<name>`, `namespace/<ns>/<name>`, `service/<ns>/<name>`. */
  readonly key: string;
  readonly kind: 'ClusterEgressRule' | 'NamespaceEgressRule' | 'ServiceEgressRule';
  readonly level: Level;
  readonly name: string;
  readonly namespace?: string;
  /** Construct path. */
  readonly path: string;
  readonly action: string;
  /** `audit` (staged policy only) or `enforced`. */
  readonly mode: 'audit' | 'enforced';
  readonly owner?: string;
  readonly ticket?: string;
}

/** One enriched event: what the receiver writes and `report`/`suggest` read. */
export interface FlowRecord {
  readonly format: typeof FLOW_RECORD_FORMAT;
  readonly time: string;
  /** What the device did, or (staged policy) would have done. */
  readonly verdict: FlowVerdict;
  readonly action: FlowAction;
  /** True for a hit in a staged policy: an audit rule; the packet's real fate is another event. */
  readonly staged: boolean;
  readonly device?: string;
  readonly source: {
    readonly ip: string;
    readonly port?: number;
    readonly namespace?: string;
    readonly pod?: string;
    readonly node?: string;
    readonly services?: readonly string[];
  };
  readonly destination: { readonly ip: string; readonly port?: number; readonly fqdn?: string };
  readonly protocol: string;
  readonly context?: { readonly type?: string; readonly name?: string };
  readonly afm: {
    readonly policy?: string;
    readonly policyType?: string;
    readonly rule?: string;
    readonly routeDomain?: number;
    readonly vlan?: string;
    readonly dropReason?: string;
  };
  /** The policy rule, when the AFM rule is one of this device's; absent for the device default and unknown rules. */
  readonly rule?: RuleAttribution;
  /** True when the AFM rule is the device default (`default`). */
  readonly defaultRule?: boolean;
}

const KIND = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' } as const;
const LEVEL_OF_KIND = { ClusterEgressRule: 'cluster', NamespaceEgressRule: 'namespace', ServiceEgressRule: 'service' } as const;

export function verdictOf(action: FlowAction): FlowVerdict {
  return action === 'drop' ? 'deny' : action === 'reject' ? 'reject' : 'allow';
}

/**
 * AFM rule name → policy rule, for one device's model. Names are unique per device (the
 * compiler checks), not per BIG-IP: on a shared BIG-IP another cluster's rule of the same
 * level, namespace and name logs the same AFM rule name.
 */
export class RuleDirectory {
  private readonly byAfmName = new Map<string, RuleAttribution>();
  private readonly all: RuleAttribution[] = [];

  private constructor(rules: readonly { readonly attribution: RuleAttribution; readonly afmNames: readonly string[] }[]) {
    for (const { attribution, afmNames } of rules) {
      this.all.push(attribution);
      for (const name of afmNames) this.byAfmName.set(name, attribution);
    }
  }

  /** From a policy model (the tools, reading a synth output). */
  static fromModel(model: PolicyModel): RuleDirectory {
    return new RuleDirectory(
      model.rules.map((r) => {
        const protocols = r.ports.length ? [...new Set(r.ports.map((p) => p.protocol))] : ['any'];
        const attribution: RuleAttribution = {
          key: ruleKey(r),
          kind: KIND[r.level],
          level: r.level,
          name: r.name,
          ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
          path: r.path,
          action: r.action,
          mode: r.audit || model.device.audit ? 'audit' : 'enforced',
          ...(r.metadata.owner !== undefined ? { owner: r.metadata.owner } : {}),
          ...(r.metadata.ticket !== undefined ? { ticket: r.metadata.ticket } : {}),
        };
        return { attribution, afmNames: protocols.map((p) => afmRuleName(model.device, r, p)) };
      }),
    );
  }

  /**
   * From the controller's sync plan: the rules that carry an attribution (a plan rendered for a
   * controller that receives flow logs); the AFM names are the compiler's own.
   */
  static fromPlan(plan: Pick<SyncPlan, 'rules'>): RuleDirectory {
    return new RuleDirectory(
      plan.rules.flatMap((r) => {
        const a = r.attribution;
        if (!a) return [];
        const level = LEVEL_OF_KIND[r.kind];
        const attribution: RuleAttribution = {
          key: r.key,
          kind: r.kind,
          level,
          name: r.name,
          ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
          path: a.path,
          action: a.action,
          mode: a.mode,
          ...(a.owner !== undefined ? { owner: a.owner } : {}),
          ...(a.ticket !== undefined ? { ticket: a.ticket } : {}),
        };
        return [{ attribution, afmNames: a.afmRules }];
      }),
    );
  }

  /** The rule an AFM rule name stands for; the name may come as a path (`…/rules/<name>`). */
  lookup(afmRule: string): RuleAttribution | undefined {
    return this.byAfmName.get(afmRule) ?? this.byAfmName.get(afmRule.slice(afmRule.lastIndexOf('/') + 1));
  }

  rules(): readonly RuleAttribution[] {
    return this.all;
  }

  /** Every AFM rule name, for bounded metric labels. */
  afmNames(): ReadonlySet<string> {
    return new Set(this.byAfmName.keys());
  }
}

export function isDefaultRule(afmRule: string | undefined): boolean {
  return afmRule !== undefined && afmRule.slice(afmRule.lastIndexOf('/') + 1) === OBJECT.defaultRule;
}

/**
 * A hit of a staged policy: `acl-policy-type` says so when the profile logs it; otherwise the
 * policy's name does (the renderer names staged policies `<name>_staged`, see `OBJECT.staged`).
 */
export function isStaged(event: Pick<FlowEvent, 'policy' | 'policyType'>): boolean {
  if (event.policyType !== undefined) return event.policyType.toLowerCase() === 'staged';
  return event.policy !== undefined && event.policy.endsWith(OBJECT.staged);
}

/**
 * The key an address has in the {@link AddressHistory}: `ip%id` for a pod of a namespace in a
 * route domain of its own (pods of two tenants may hold the same address), else the address.
 */
export function historyKey(ip: string, ownRouteDomain: number | undefined): string {
  return ownRouteDomain === undefined ? ip : `${ip}%${ownRouteDomain}`;
}

/**
 * The event with the pod that held its source address at its time, and its rule.
 * `ownRouteDomains`: route domains of namespaces of their own, whose pods the history keeps as `ip%id`.
 */
export function enrich(
  event: FlowEvent,
  history: AddressHistory | undefined,
  rules: RuleDirectory | undefined,
  ownRouteDomains?: ReadonlySet<number>,
): FlowRecord {
  const at = Date.parse(event.time);
  const rd = event.routeDomain !== undefined && ownRouteDomains?.has(event.routeDomain) ? event.routeDomain : undefined;
  const holder = history?.lookup(historyKey(event.sourceIp, rd), at);
  const rule = event.rule !== undefined ? rules?.lookup(event.rule) : undefined;
  const opt = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  const context =
    event.contextType !== undefined || event.contextName !== undefined
      ? { ...opt('type', event.contextType), ...opt('name', event.contextName) }
      : undefined;
  return {
    format: FLOW_RECORD_FORMAT,
    time: event.time,
    verdict: verdictOf(event.action),
    action: event.action,
    staged: isStaged(event),
    ...opt('device', event.device),
    source: {
      ip: event.sourceIp,
      ...opt('port', event.sourcePort),
      ...(holder ? { namespace: holder.namespace, pod: holder.pod, ...opt('node', holder.node), services: holder.services } : {}),
    },
    destination: { ip: event.destinationIp, ...opt('port', event.destinationPort), ...opt('fqdn', event.destinationFqdn) },
    protocol: event.protocol,
    ...opt('context', context),
    afm: {
      ...opt('policy', event.policy),
      ...opt('policyType', event.policyType),
      ...opt('rule', event.rule),
      ...opt('routeDomain', event.routeDomain),
      ...opt('vlan', event.vlan),
      ...opt('dropReason', event.dropReason),
    },
    ...opt('rule', rule),
    ...(isDefaultRule(event.rule) ? { defaultRule: true } : {}),
  };
}

/** One JSON line (with its newline). */
export function recordLine(record: FlowRecord): string {
  return `${JSON.stringify(record)}\n`;
}
