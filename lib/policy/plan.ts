/**
 * The sync plan: what the in-cluster controller needs to keep source lists current, and
 * what the explain/simulate tools need to turn pods into list members. Derived from the
 * compiled policy (by lib/k8s/sync-plan.ts), so it always agrees with the AS3 declaration of
 * the same synth.
 */
import { createHash } from 'node:crypto';
import { CompiledPolicy, canonical } from './compile';
import { PolicyModel, ScheduleModel, SourceModel, ruleKey } from './model';

export const PLAN_FORMAT = 'cdktf-ces.dev/sync-plan/v1';

export interface PlanList {
  /** BIG-IP path of the event-driven address list. */
  readonly path: string;
  /** AS3 service-discovery task id (`~Common~Shared~name`). */
  readonly taskId: string;
  readonly source: SourceModel;
  /** Keys of the rules using the list (`cluster/<name>`, `namespace/<ns>/<name>`, …). */
  readonly rules: readonly string[];
  readonly schedule?: ScheduleModel;
  readonly expiresAt?: string;
  /**
   * Route domain of every member, for the list of a namespace with a route domain of its own
   * (its members are pushed as `ip%id`); absent for the others (see
   * {@link SyncPlan.namespaceRouteDomains}).
   */
  readonly routeDomain?: number;
}

/** A namespace whose pods reach the BIG-IP in a route domain of their own. */
export interface PlanNamespaceRouteDomain {
  readonly namespace: string;
  readonly routeDomain: number;
}

export interface PlanRule {
  readonly key: string;
  readonly kind: 'ClusterEgressRule' | 'NamespaceEgressRule' | 'ServiceEgressRule';
  readonly name: string;
  readonly namespace?: string;
  /** The address list the rule matches its source by (filled by the controller or static). */
  readonly sourceList: string;
  /**
   * `ruleSpecDigest` of the rule CR's spec as this synth renders it: the controller reports a
   * CR whose spec differs (edited by hand, or a deploy under way) as not deployed.
   */
  readonly specDigest: string;
  /**
   * The lists of {@link SyncPlan.lists} whose members make up the rule's source: the source list,
   * or none when the rule matches the pod CIDRs themselves. Absent in plans written before rules
   * could match the pod CIDRs: `[sourceList]`.
   */
  readonly memberLists?: readonly string[];
  /** Who the rule is, for flow-log attribution; present when the controller receives flow logs. */
  readonly attribution?: PlanRuleAttribution;
}

/** What a flow record says about the rule behind an AFM rule name. */
export interface PlanRuleAttribution {
  /** Construct path. */
  readonly path: string;
  readonly action: string;
  /** `audit` (staged policy only: the rule's audit flag or the device's audit mode) or `enforced`. */
  readonly mode: 'audit' | 'enforced';
  readonly owner?: string;
  readonly ticket?: string;
  /** The names of the rule's AFM rules (one per protocol), as the device logs them. */
  readonly afmRules: readonly string[];
}

/** A firewall context's policies as the deploy attaches them. */
export interface PlanAttachment {
  readonly enforcedPolicy: string;
  readonly stagedPolicy: string;
}

/**
 * What the device must hold beyond the lists, for the controller to check (and report, never
 * repair: Terraform owns it): the global context's and this device's route domain's policies,
 * and the FQDN resolver.
 */
export interface PlanDeviceContext {
  /** Owner of the context policies: the tenant, or the SharedBigip's name. */
  readonly owner: string;
  readonly global: PlanAttachment;
  /** This device's route domain, by path (`/Common/0`). */
  readonly routeDomains: readonly (PlanAttachment & { readonly id: number; readonly path: string })[];
  /** The resolver the owner sets; checked only when the policy names FQDNs. */
  readonly dnsResolver?: string;
  readonly usesFqdns: boolean;
}

export interface SyncPlan {
  readonly format: typeof PLAN_FORMAT;
  readonly cluster: string;
  readonly tenant: string;
  readonly application: string;
  readonly routeDomain: number;
  readonly lists: readonly PlanList[];
  readonly rules: readonly PlanRule[];
  /**
   * Namespaces in route domains of their own: every list member that is a pod of one is
   * `ip%id`, whatever the list (a cluster list holds pods of several route domains); members
   * of other pods are in `routeDomain`. Absent when no namespace is mapped.
   */
  readonly namespaceRouteDomains?: readonly PlanNamespaceRouteDomain[];
  /** Set in the controller's plan; absent in the policy artifact. */
  readonly context?: PlanDeviceContext;
}

/** A rule not enforced because its `expiresAt` had come at synth; the tools list it. */
export interface ExpiredRule {
  readonly key: string;
  /** Construct path. */
  readonly path: string;
  readonly action: string;
  readonly expiresAt: string;
}

/** The expired rules of a compiled policy, as the artifact lists them. */
export function expiredRules(compiled: CompiledPolicy): ExpiredRule[] {
  return compiled.expired.map((r) => ({ key: ruleKey(r), path: r.path, action: r.action, expiresAt: r.expiresAt as string }));
}

export const ARTIFACT_FORMAT = 'cdktf-ces.dev/policy-artifact/v1';

/**
 * What a device writes next to its stack's `cdk.tf.json`: the policy model (to recompile),
 * the sync plan, and a digest of the AS3 JSON so tools can tell a stale output.
 */
export interface PolicyArtifact {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly devicePath: string;
  readonly model: PolicyModel;
  readonly plan: SyncPlan;
  readonly as3Sha256: string;
  /**
   * Set when the device shares its BIG-IP: the stack whose `bigip_as3` holds `/Common/Shared`
   * (lists, rule lists, global and route-domain policies) and the tmsh commands.
   */
  readonly sharedContext?: { readonly stack: string; readonly name: string };
  /** Rules left out because their `expiresAt` had come at synth (absent when none). */
  readonly expiredRules?: readonly ExpiredRule[];
  /** Set when the device is a BIG-IP pair: its device group, how it syncs, every unit's management URL (leader first). */
  readonly ha?: { readonly deviceGroup: string; readonly configSync: 'auto' | 'explicit'; readonly units: readonly string[] };
}

/**
 * Digest of a rule CR's spec: 128 bits of SHA-256 of its canonical JSON (sorted keys), so equal
 * content gives an equal digest whatever the key order; 32 hex digits per rule in the plan.
 */
export function ruleSpecDigest(spec: unknown): string {
  return sha256(canonical(spec ?? null)).slice(0, 32);
}

/** The plan lists a rule's source consists of (see {@link PlanRule.memberLists}). */
export function memberListsOf(rule: Pick<PlanRule, 'sourceList' | 'memberLists'>): readonly string[] {
  return rule.memberLists ?? [rule.sourceList];
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
