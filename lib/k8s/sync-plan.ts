/**
 * Builds the sync plan of lib/policy/plan.ts from a compiled device: the rules' CR spec digests
 * come from the CR rendering here, the expected context state from lib/afm, so the plan agrees
 * with the custom resources and the AS3 declaration of the same synth.
 */
import { expectedDeviceState, ownDeviceState } from '../afm/device-state';
import type { CompiledPolicy, CompiledRule } from '../policy/compile';
import { LEVELS } from '../policy/model';
import { PLAN_FORMAT, PlanRuleAttribution, SyncPlan, ruleSpecDigest } from '../policy/plan';
import { ruleResource } from './resources';
import { listRouteDomain, planNamespaceRouteDomains } from '../policy/route-domains';

/** Who owns the device's contexts, when it is not the device itself. */
export interface PlanContextOwner {
  readonly name: string;
  readonly dnsResolver?: string;
}

const KIND = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' } as const;

export interface SyncPlanOptions {
  /** Include each rule's {@link PlanRuleAttribution} (the controller receives flow logs). */
  readonly attribution?: boolean;
}

/**
 * The sync plan of a compiled device. `context`: include the expected context state, owned by
 * the device itself (`'own'`) or by a SharedBigip.
 */
export function buildSyncPlan(compiled: CompiledPolicy, context?: 'own' | PlanContextOwner, options: SyncPlanOptions = {}): SyncPlan {
  const { device } = compiled.model;
  const plan: SyncPlan = {
    format: PLAN_FORMAT,
    cluster: device.cluster,
    tenant: device.tenant,
    application: device.application,
    routeDomain: device.routeDomain,
    lists: compiled.sourceLists.map((l) => ({
      path: l.path,
      taskId: l.taskId,
      source: l.source,
      rules: l.rules,
      ...(l.schedule ? { schedule: l.schedule } : {}),
      ...(l.expiresAt ? { expiresAt: l.expiresAt } : {}),
      ...listRouteDomain(device, l.source),
    })),
    rules: LEVELS.flatMap((level) =>
      compiled.levels[level].map((r) => ({
        key: r.key,
        kind: KIND[level],
        name: r.model.name,
        ...(r.model.namespace ? { namespace: r.model.namespace } : {}),
        sourceList: r.sourceList,
        specDigest: ruleSpecDigest(ruleResource(r.model, device.cluster).spec),
        memberLists: r.memberLists,
        ...(options.attribution ? { attribution: attributionOf(r) } : {}),
      })),
    ),
    ...planNamespaceRouteDomains(device),
  };
  if (!context) return plan;
  const state = context === 'own' ? ownDeviceState(compiled) : expectedDeviceState(context.name, [compiled], context.dnsResolver);
  const usesFqdns =
    compiled.model.rules.some((r) => r.destinations.some((d) => d.kind === 'fqdn')) ||
    compiled.model.externalServices.some((es) => es.destinations.some((d) => d.kind === 'fqdn'));
  return {
    ...plan,
    context: {
      owner: state.owner,
      global: state.global,
      routeDomains: state.routeDomains.map((rd) => ({
        id: rd.id,
        path: rd.path,
        enforcedPolicy: rd.enforcedPolicy,
        stagedPolicy: rd.stagedPolicy,
      })),
      ...(state.dnsResolver !== undefined ? { dnsResolver: state.dnsResolver } : {}),
      usesFqdns,
    },
  };
}

function attributionOf(r: CompiledRule): PlanRuleAttribution {
  const { owner, ticket } = r.model.metadata;
  return {
    path: r.model.path,
    action: r.model.action,
    mode: r.audit ? 'audit' : 'enforced',
    ...(owner !== undefined ? { owner } : {}),
    ...(ticket !== undefined ? { ticket } : {}),
    afmRules: r.entries.map((e) => e.name),
  };
}
