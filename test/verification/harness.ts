/**
 * Runs one flow through both evaluators and reduces each answer to the same comparable reading:
 * verdict, would-be verdict, deciding rule and what each level (AFM context) decided.
 */
import { AfmChainResult, AfmEvaluation, AfmFirewall, AfmRuleHit, AfmRuleIndex } from '../../lib/afm/evaluator';
import { contextCommands, deviceCommands, renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { desiredMembers } from '../../lib/policy/membership';
import { deviceMember, routeDomainIdsByPath, routeDomainOfPod } from '../../lib/policy/route-domains';
import { compilePolicy } from '../../lib/policy/compile';
import { IntentDecision, IntentResult, evaluateIntent } from '../../lib/policy/intent';
import { LEVELS, PolicyModel, RuleModel } from '../../lib/policy/model';
import { SyncPlan } from '../../lib/policy/plan';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import type { Scenario, ScenarioFlow } from './scenarios';

/** What both evaluators must agree on. */
export interface Reading {
  readonly verdict: string;
  readonly wouldBe: string;
  /** Rule key, or `(default)` when no rule decided. */
  readonly decidedBy: string;
  readonly wouldBeDecidedBy: string;
  /** Cluster, namespace, service: rule key, `-` (no match) or `(not consulted)`. */
  readonly levels: readonly string[];
  readonly wouldBeLevels: readonly string[];
  /** Keys of the rules whose onMatch iRule ran, by level order (a carried copy runs none). */
  readonly iRules: readonly string[];
  readonly wouldBeIRules: readonly string[];
}

export interface RenderedWorld {
  readonly firewall: AfmFirewall;
  readonly plan: SyncPlan;
  readonly owners: AfmRuleIndex;
  readonly as3: Record<string, unknown>;
  readonly commands: readonly string[];
}

/** The rendering under test: AS3 JSON as `bigip_as3` receives it and the `bigip_command` commands. */
export function renderWorld(model: PolicyModel): RenderedWorld {
  const compiled = compilePolicy(model);
  const as3 = JSON.parse(JSON.stringify(renderAs3(compiled))) as Record<string, unknown>;
  const commands = deviceCommands(compiled).apply;
  // Route domains named by path (a mapped namespace's may be) are found by their ids.
  const firewall = AfmFirewall.load(as3, commands, { routeDomainIds: routeDomainIdsByPath(model.device) });
  return { firewall, plan: buildSyncPlan(compiled), owners: new AfmRuleIndex(model), as3, commands };
}

const iRules = (d: IntentDecision) => d.levels.flatMap((s) => (s.outcome === 'match' && s.rule.onMatch ? [s.rule.key] : []));

export function intentReading(r: IntentResult): Reading {
  const levels = (d: IntentDecision) =>
    d.levels.map((s) => (s.outcome === 'match' ? s.rule.key : s.outcome === 'no-match' ? '-' : '(not consulted)'));
  return {
    verdict: r.verdict,
    wouldBe: r.wouldBe,
    decidedBy: r.enforced.decidedBy?.key ?? '(default)',
    wouldBeDecidedBy: r.wouldBeDecision.decidedBy?.key ?? '(default)',
    levels: levels(r.enforced),
    wouldBeLevels: levels(r.wouldBeDecision),
    iRules: iRules(r.enforced),
    wouldBeIRules: iRules(r.wouldBeDecision),
  };
}

export function afmReading(e: AfmEvaluation, owners: AfmRuleIndex): Reading {
  const owner = (hit: AfmRuleHit) => {
    const o = owners.ownerOf(hit);
    if (!o && !(hit.rule === 'default' && !hit.ruleList))
      throw new Error(`AFM rule "${hit.rule}" (${hit.ruleList ?? hit.policy}) belongs to no rule of the policy`);
    return o;
  };
  const levels = (c: AfmChainResult) =>
    c.steps.map((s) => {
      if (s.outcome === 'not-reached' || s.outcome === 'no-virtual-server') return '(not consulted)';
      if (s.outcome !== 'match' || !s.hit) return '-';
      const o = owner(s.hit);
      // In the virtual-server context only the service rules are the service level's own; the
      // carried ALLOW rules and the default stand in for "no service rule matched".
      if (s.context === 'virtual-server' && o?.level !== 'service') return '-';
      return o ? o.key : '-';
    });
  // The iRules that ran for rules with onMatch code (a bandwidth limit's own iRule is not one).
  const ranIRules = (c: AfmChainResult) =>
    c.steps.flatMap((s) => {
      const o = s.outcome === 'match' && s.hit?.iRule ? owner(s.hit) : undefined;
      return o?.onMatch ? [o.key] : [];
    });
  const decided = (c: AfmChainResult) => (c.decidedBy ? (owner(c.decidedBy)?.key ?? '(default)') : '(default)');
  return {
    verdict: e.verdict,
    wouldBe: e.wouldBe,
    decidedBy: decided(e.enforced),
    wouldBeDecidedBy: decided(e.staged),
    levels: levels(e.enforced),
    wouldBeLevels: levels(e.staged),
    iRules: ranIRules(e.enforced),
    wouldBeIRules: ranIRules(e.staged),
  };
}

/** Members as the controller pushes them: `ip%rd` outside route domain 0. */
export function pushedMembers(plan: SyncPlan, scenario: Pick<Scenario, 'snapshot'>, at: Date): Map<string, string[]> {
  const members = desiredMembers(plan, scenario.snapshot, at);
  if (plan.routeDomain === 0) return members;
  return new Map([...members].map(([path, ips]) => [path, ips.map((ip) => deviceMember(ip, plan.routeDomain))]));
}

export interface FlowOutcome {
  readonly intent: IntentResult;
  readonly afm: AfmEvaluation;
  readonly intentReading: Reading;
  readonly afmReading: Reading;
}

export function evaluateBoth(world: RenderedWorld, scenario: Scenario, flow: ScenarioFlow): FlowOutcome {
  const intent = evaluateIntent({
    model: scenario.model,
    snapshot: scenario.snapshot,
    dns: scenario.dns,
    flow: {
      pod: flow.pod,
      sourceIp: flow.sourceIp,
      destinationIp: flow.destinationIp,
      host: flow.host,
      protocol: flow.protocol,
      port: flow.port,
    },
    at: flow.at,
  });
  const state = world.firewall.listState(pushedMembers(world.plan, scenario, flow.at), scenario.dns);
  const afm = world.firewall.evaluate(
    {
      sourceIp: flow.sourceIp,
      // A pod of a namespace with a route domain of its own sends in that route domain.
      routeDomain: routeDomainOfPod(scenario.model.device, flow.pod),
      destinationIp: flow.destinationIp,
      host: flow.host,
      protocol: flow.protocol,
      port: flow.port,
    },
    state,
  );
  return { intent, afm, intentReading: intentReading(intent), afmReading: afmReading(afm, world.owners) };
}

const json = (v: unknown) => JSON.stringify(v);

function describeRule(r: RuleModel): string {
  const src = r.source;
  const source =
    src.level === 'cluster'
      ? `all pods${src.namespaceSelector ? ` nsSel=${json(src.namespaceSelector)}` : ''}${src.podSelector ? ` podSel=${json(src.podSelector)}` : ''}`
      : src.level === 'namespace'
        ? `ns ${src.namespace}${src.podSelector ? ` podSel=${json(src.podSelector)}` : ''}`
        : `svc ${src.namespace}/${src.service}`;
  const dst = r.destinations.map((d) => (d.kind === 'externalService' ? `exsvc:${d.name}` : d.text)).join(', ');
  const ports = r.ports.length
    ? r.ports
        .map((p) => `${p.protocol}${p.fromPort !== undefined ? `/${p.fromPort}${p.toPort !== p.fromPort ? `-${p.toPort}` : ''}` : ''}`)
        .join(', ')
    : 'any';
  const extra = [r.audit ? 'AUDIT' : '', r.schedule ? `window ${json(r.schedule)}` : '', r.expiresAt ? `expires ${r.expiresAt}` : '']
    .filter(Boolean)
    .join(' ');
  return `${r.level}${r.namespace ? `/${r.namespace}` : ''}/${r.name} ${r.action} p${r.priority}: ${source} → [${dst}] ports ${ports}${extra ? ` ${extra}` : ''}`;
}

function describeChain(c: AfmChainResult): string {
  const steps = c.steps.map(
    (s) =>
      `${s.context}: ${s.outcome}${s.hit ? ` ${s.hit.rule} (${s.hit.action}${s.hit.ruleList ? ` in ${s.hit.ruleList}` : ''})` : s.policy ? ` (${s.policy})` : ''}`,
  );
  return `${c.verdict} [${c.ending}] — ${steps.join('; ')}`;
}

/** A readable account of a disagreement: the world, the flow and both traces. */
export function describeDivergence(scenario: Scenario, flow: ScenarioFlow, outcome: FlowOutcome): string {
  const { model, snapshot, dns } = scenario;
  const d = model.device;
  const order = (a: RuleModel, b: RuleModel) =>
    LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level) ||
    a.priority - b.priority ||
    (a.namespace ?? '').localeCompare(b.namespace ?? '') ||
    a.name.localeCompare(b.name);
  const lines = [
    'The intent evaluator (policy model) and the AFM evaluator (rendered AS3 + tmsh) disagree.',
    '',
    `FLOW  ${flow.pod.namespace}/${flow.pod.name} from ${flow.sourceIp} → ${flow.destinationIp ?? '(no address)'}${flow.host ? ` host ${flow.host}` : ''} ${flow.protocol}${flow.port !== undefined ? `/${flow.port}` : ''} at ${flow.at.toISOString()}`,
    `      pod labels ${json(flow.pod.labels)} phase ${flow.pod.phase ?? '-'}${flow.pod.terminating ? ' terminating' : ''}${flow.pod.hostNetwork ? ' hostNetwork' : ''} ips ${json(flow.pod.ips)}`,
    `DEVICE route domain ${d.routeDomain}, default ${d.defaultAction}, audit ${d.audit}, podCidrs ${json(d.podCidrs.map((c) => c.text))}`,
    'RULES',
    ...[...model.rules].sort(order).map((r) => `  ${describeRule(r)}`),
    ...(model.externalServices.length
      ? ['EXTERNAL SERVICES', ...model.externalServices.map((es) => `  ${es.name}: ${es.destinations.map((x) => x.text).join(', ')}`)]
      : []),
    `NAMESPACES ${snapshot.namespaces.map((n) => `${n.name}${json(n.labels)}`).join(' ')}`,
    `SERVICES  ${snapshot.services
      .filter((s) => s.selector)
      .map((s) => `${s.namespace}/${s.name}${json(s.selector)}`)
      .join(' ')}`,
    `PODS      ${snapshot.pods.map((p) => `${p.namespace}/${p.name}${json(p.labels)}${json(p.ips)}`).join(' ')}`,
    `DNS       ${json(Object.fromEntries(dns))}`,
    '',
    `INTENT reading ${json(outcome.intentReading)}`,
    `AFM    reading ${json(outcome.afmReading)}`,
    `AFM enforced: ${describeChain(outcome.afm.enforced)}`,
    `AFM staged:   ${describeChain(outcome.afm.staged)}`,
  ];
  return lines.join('\n');
}

/** Two clusters on a SharedBigip: what the BIG-IP holds after the three declarations and the shared commands. */
export interface SharedWorld {
  readonly firewall: AfmFirewall;
  readonly plans: readonly [SyncPlan, SyncPlan];
  readonly owners: readonly [AfmRuleIndex, AfmRuleIndex];
}

export const SHARED_OWNER = 'cdktf_ces';

export function renderSharedWorld(a: PolicyModel, b: PolicyModel): SharedWorld {
  const ca = compilePolicy(a);
  const cb = compilePolicy(b);
  const wire = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
  const as3 = [wire(renderSharedAs3(SHARED_OWNER, [ca, cb])), wire(renderTenantAs3(ca)), wire(renderTenantAs3(cb))];
  const commands = contextCommands(SHARED_OWNER, [ca, cb], '/Common/egress-resolver').apply;
  return {
    firewall: AfmFirewall.load(as3, commands),
    plans: [buildSyncPlan(ca), buildSyncPlan(cb)],
    owners: [new AfmRuleIndex(a), new AfmRuleIndex(b)],
  };
}

/** A flow of one of the two clusters (`which`), with both clusters' lists filled. */
export function evaluateShared(
  world: SharedWorld,
  scenarios: readonly [Scenario, Scenario],
  which: 0 | 1,
  flow: ScenarioFlow,
): FlowOutcome {
  const scenario = scenarios[which];
  const members = new Map([
    ...pushedMembers(world.plans[0], scenarios[0], flow.at),
    ...pushedMembers(world.plans[1], scenarios[1], flow.at),
  ]);
  const intent = evaluateIntent({
    model: scenario.model,
    snapshot: scenario.snapshot,
    dns: scenario.dns,
    flow: {
      pod: flow.pod,
      sourceIp: flow.sourceIp,
      destinationIp: flow.destinationIp,
      host: flow.host,
      protocol: flow.protocol,
      port: flow.port,
    },
    at: flow.at,
  });
  const afm = world.firewall.evaluate(
    {
      sourceIp: flow.sourceIp,
      routeDomain: scenario.model.device.routeDomain,
      destinationIp: flow.destinationIp,
      host: flow.host,
      protocol: flow.protocol,
      port: flow.port,
    },
    world.firewall.listState(members, scenario.dns),
  );
  return { intent, afm, intentReading: intentReading(intent), afmReading: afmReading(afm, world.owners[which]) };
}
