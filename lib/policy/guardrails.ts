/**
 * Guardrails: an envelope the security team states once, that namespace and service rules
 * (the teams' rules) must stay inside. Pure checks; the `EgressGuardrails` aspect applies
 * them to the construct tree at synth.
 */
import { EgressPolicyError, PolicyIssue, quote } from './errors';
import { fqdnMatches, parseFqdn } from './fqdn';
import { IpInterval, parseAddressEntry } from './ip';
import type { AddressModel, DestinationModel, ExternalServiceModel, FqdnModel, PortModel, RuleModel } from './model';

export interface GuardrailSet {
  /** Name used in messages. */
  readonly name: string;
  /** Violations warn instead of failing synth. */
  readonly warnOnly: boolean;
  readonly forbidCatchAll: boolean;
  readonly forbidWildcardFqdns: boolean;
  readonly allowedDestinations?: readonly (AddressModel | FqdnModel)[];
  readonly allowedPorts?: readonly PortModel[];
  readonly maxRulesPerNamespace?: number;
  readonly requireOwner: boolean;
  readonly requireTicket: boolean;
  readonly requireJustification: boolean;
}

export interface GuardrailViolation {
  readonly guardrail: string;
  readonly message: string;
}

const FULL: Record<4 | 6, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

function interval(a: AddressModel): IpInterval {
  return parseAddressEntry(a.text);
}

function isCatchAll(a: AddressModel): boolean {
  const i = interval(a);
  return i.first === 0n && i.last === FULL[i.family];
}

/** Merged, sorted intervals per family. */
function merge(intervals: IpInterval[]): IpInterval[] {
  const sorted = [...intervals].sort((x, y) => x.family - y.family || (x.first < y.first ? -1 : x.first > y.first ? 1 : 0));
  const out: IpInterval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === i.family && i.first <= last.last + 1n) out[out.length - 1] = { ...last, last: i.last > last.last ? i.last : last.last };
    else out.push(i);
  }
  return out;
}

function addressInside(a: AddressModel, envelope: IpInterval[]): boolean {
  const i = interval(a);
  return envelope.some((e) => e.family === i.family && e.first <= i.first && i.last <= e.last);
}

function fqdnInside(f: FqdnModel, envelope: readonly FqdnModel[]): boolean {
  return envelope.some((e) => (f.wildcard ? e.text === f.text : e.text === f.text || (e.wildcard && fqdnMatches(parseFqdn(e.text), f.text))));
}

function portInside(p: PortModel, allowed: readonly PortModel[]): boolean {
  if (allowed.some((a) => a.protocol === 'any')) return true;
  if (p.protocol === 'any') return false;
  if (allowed.some((a) => a.protocol === p.protocol && a.fromPort === undefined)) return true;
  if (p.fromPort === undefined) return false;
  const ranges = allowed
    .filter((a) => a.protocol === p.protocol)
    .map((a) => [a.fromPort as number, a.toPort as number])
    .sort((x, y) => x[0] - y[0]);
  // Walk the sorted ranges to see that [fromPort, toPort] is covered without a gap.
  let next = p.fromPort;
  for (const [from, to] of ranges) {
    if (from > next) break;
    if (to >= next) next = to + 1;
    if (next > (p.toPort as number)) return true;
  }
  return false;
}

/** Checks a guardrail set for contradictions; throws one issue per contradiction. */
export function validateGuardrailSet(set: GuardrailSet, path: string): void {
  const issues: PolicyIssue[] = [];
  for (const d of set.allowedDestinations ?? []) {
    if (set.forbidCatchAll && d.kind !== 'fqdn' && isCatchAll(d)) {
      issues.push({ path, field: 'allowedDestinations', value: quote(d.text), message: 'contradicts forbidCatchAll: the envelope would allow what the guardrail forbids; remove one of them' });
    }
    if (set.forbidWildcardFqdns && d.kind === 'fqdn' && d.wildcard) {
      issues.push({ path, field: 'allowedDestinations', value: quote(d.text), message: 'contradicts forbidWildcardFqdns: remove the wildcard from the envelope or allow wildcards' });
    }
  }
  if (set.allowedPorts && set.allowedPorts.length === 0) {
    issues.push({ path, field: 'allowedPorts', value: '[]', message: 'an empty port set forbids every team rule; list the allowed ports or leave allowedPorts out' });
  }
  if (set.allowedDestinations && set.allowedDestinations.length === 0) {
    issues.push({ path, field: 'allowedDestinations', value: '[]', message: 'an empty envelope forbids every team rule; list the allowed destinations or leave allowedDestinations out' });
  }
  if (set.maxRulesPerNamespace !== undefined && (!Number.isInteger(set.maxRulesPerNamespace) || set.maxRulesPerNamespace < 1)) {
    issues.push({ path, field: 'maxRulesPerNamespace', value: quote(set.maxRulesPerNamespace), message: 'must be a whole number of at least 1' });
  }
  if (issues.length) throw new EgressPolicyError(issues);
}

/**
 * Violations of one rule. `rulesInNamespace` is the rule's position among the namespace's
 * team rules (1 for the first), for the per-namespace cap.
 */
export function ruleViolations(set: GuardrailSet, rule: RuleModel, externalServices: readonly ExternalServiceModel[], rulesInNamespace: number): GuardrailViolation[] {
  const out: GuardrailViolation[] = [];
  const v = (guardrail: string, message: string) => out.push({ guardrail, message });
  const { owner, ticket, justification } = rule.metadata;
  if (set.requireOwner && !owner) v('requireOwner', 'every rule needs an owner; set owner to the team or person responsible');
  if (set.requireTicket && !ticket) v('requireTicket', 'every rule needs a ticket; set ticket to the change or request reference');
  if (set.requireJustification && !justification) v('requireJustification', 'every rule needs a justification; set justification to why the egress is needed');

  const teamRule = rule.level !== 'cluster';
  if (!teamRule) return out;
  if (set.maxRulesPerNamespace !== undefined && rulesInNamespace > set.maxRulesPerNamespace) {
    v('maxRulesPerNamespace', `namespace "${rule.namespace}" has more than ${set.maxRulesPerNamespace} rules; merge rules or ask the security team to raise the cap`);
  }
  if (rule.action !== 'ALLOW' && rule.action !== 'ALLOW_FINAL') return out;

  const destinations: DestinationModel[] = rule.destinations.flatMap((d) =>
    d.kind === 'externalService' ? [...(externalServices.find((e) => e.name === d.name)?.destinations ?? [])] : [d],
  );
  const envelope = set.allowedDestinations;
  const envelopeIntervals = envelope ? merge(envelope.filter((e): e is AddressModel => e.kind !== 'fqdn').map(interval)) : [];
  const envelopeNames = envelope ? envelope.filter((e): e is FqdnModel => e.kind === 'fqdn') : [];
  for (const d of destinations) {
    if (d.kind === 'externalService') continue;
    if (d.kind !== 'fqdn' && set.forbidCatchAll && isCatchAll(d)) {
      v('forbidCatchAll', `allows every address (${d.text}); only cluster rules may; name the networks the workload needs`);
    } else if (d.kind === 'fqdn' && d.wildcard && set.forbidWildcardFqdns) {
      v('forbidWildcardFqdns', `allows the wildcard ${d.text}; list the exact names the workload needs`);
    } else if (envelope && (d.kind === 'fqdn' ? !fqdnInside(d, envelopeNames) : !addressInside(d, envelopeIntervals))) {
      v('allowedDestinations', `allows ${d.text}, outside the security envelope; ask the security team to extend the envelope or narrow the rule`);
    }
  }
  if (set.allowedPorts) {
    const ports = rule.ports.length ? rule.ports : [{ protocol: 'any' } as PortModel];
    for (const p of ports) {
      if (!portInside(p, set.allowedPorts)) {
        const shown = p.fromPort === undefined ? p.protocol === 'any' ? 'every protocol and port' : `every ${p.protocol} port` : `${p.protocol}/${p.fromPort}${p.toPort !== p.fromPort ? `-${p.toPort}` : ''}`;
        v('allowedPorts', `allows ${shown}, outside the allowed port set; use an allowed port or ask the security team`);
      }
    }
  }
  return out;
}
