/**
 * Per-rule source translation: a rule's `snat` (its own translation addresses) and the checks
 * that keep it renderable as an AFM NAT policy on the egress virtual server.
 *
 * AS3 facts this relies on (AS3 3.56 schema): a `NAT_Rule` matches source and destination
 * address lists and port lists and a protocol from `any`, `tcp`, `udp` only; it translates with
 * a `NAT_Source_Translation` (addresses, `dynamic-pat`); it has no automap translation
 * (F5Networks/f5-appsvcs-extension#894).
 */
import { namespaceRouteDomains } from './route-domains';
import { z } from 'zod';
import type { EgressSnat, ValueProblem } from './device';
import { PolicyIssue, quote } from './errors';
import type {
  ActionName,
  AddressModel,
  DeviceModel,
  ExternalServiceModel,
  PolicyModel,
  PortModel,
  RuleModel,
  RuleSnatModel,
} from './model';

/** Protocols an AFM NAT rule can match (AS3 `NAT_Rule.protocol`). */
export const NAT_PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp']);

const FAMILY = { 4: 'IPv4', 6: 'IPv6' } as const;

/**
 * How EgressSnat values are recognised and read. device.ts (which owns EgressSnat) fills it in
 * when it loads: it imports the rule schema's module, so this module may not import it back.
 * Before it loads no EgressSnat can exist, and every value is refused.
 */
export const egressSnatValues: {
  is: (v: unknown) => v is EgressSnat;
  read: (snat: EgressSnat) => { addresses: AddressModel[] } | ValueProblem[];
} = {
  is: (_v: unknown): _v is EgressSnat => false,
  read: () => [],
};

/** The rule prop `snat`: `EgressSnat.pool([...])` only. */
export const ruleSnatSchema = z
  .custom<EgressSnat>((v) => egressSnatValues.is(v), {
    error: 'expected EgressSnat.pool([...]), the addresses the traffic of this rule leaves with',
  })
  .transform((snat, ctx): RuleSnatModel => {
    if (snat.mode === 'AUTOMAP') {
      ctx.addIssue({
        code: 'custom',
        message:
          'a rule cannot translate to automap: an AFM NAT rule has no automap translation (AS3 NAT_Rule, F5Networks/f5-appsvcs-extension#894); list the addresses with EgressSnat.pool([...]), or leave snat out for the translation of the device',
        params: { quotedValue: 'EgressSnat.automap()' },
      });
      return z.NEVER;
    }
    if (snat.mode === 'NONE') {
      ctx.addIssue({
        code: 'custom',
        message:
          'a rule cannot opt out of translation: what an AFM NAT rule without a translation does is not documented; give the rule its addresses with EgressSnat.pool([...]), or leave snat out for the translation of the device',
        params: { quotedValue: 'EgressSnat.none()' },
      });
      return z.NEVER;
    }
    if (Array.isArray(snat.addresses) && snat.addresses.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'a translation pool needs at least one address, such as EgressSnat.pool(["192.0.2.210"])',
        params: { quotedValue: '[]' },
      });
      return z.NEVER;
    }
    const model = egressSnatValues.read(snat);
    if (!Array.isArray(model)) return { addresses: model.addresses };
    for (const p of model) ctx.addIssue({ code: 'custom', message: p.message, params: { quotedValue: p.value } });
    return z.NEVER;
  });

/** Problems of a rule's `snat` that its own props show (action, audit, protocols). */
export function ruleSnatIssues(
  path: string,
  rule: { action: ActionName; audit: boolean; ports: readonly PortModel[]; snat?: RuleSnatModel },
): PolicyIssue[] {
  if (!rule.snat) return [];
  const value = `EgressSnat.pool(${quote(rule.snat.addresses.map((a) => a.text))})`;
  const issues: PolicyIssue[] = [];
  if (rule.action === 'DENY' || rule.action === 'REJECT') {
    issues.push({
      path,
      field: 'snat',
      value,
      message: `a ${rule.action} rule lets nothing through, so nothing leaves with its translation; remove snat or make the rule ALLOW or ALLOW_FINAL`,
    });
  }
  if (rule.audit) {
    issues.push({
      path,
      field: 'snat',
      value,
      message:
        'an audit rule changes no verdict, but a NAT rule has no staged mode and would translate the traffic other rules allow; remove snat or audit',
    });
  }
  const others = [...new Set(rule.ports.map((p) => p.protocol).filter((p) => !NAT_PROTOCOLS.has(p)))];
  if (others.length) {
    issues.push({
      path,
      field: 'snat',
      value,
      message: `the rule's ports include ${others.join(', ')}, and an AFM NAT rule matches only tcp, udp or every protocol (AS3 NAT_Rule.protocol); put the ${others.join(', ')} ports into a rule without snat`,
    });
  }
  return issues;
}

/** The address families of the traffic a rule can carry: its destinations' and its pods'. */
export function ruleFamilies(rule: RuleModel, device: DeviceModel, services: readonly ExternalServiceModel[]): Set<4 | 6> {
  const pods = new Set<4 | 6>(device.podCidrs.length ? device.podCidrs.map((c) => c.family) : [4, 6]);
  const destinations = new Set<4 | 6>();
  const add = (d: RuleModel['destinations'][number] | ExternalServiceModel['destinations'][number]) => {
    if (d.kind === 'fqdn') {
      destinations.add(4);
      destinations.add(6);
    } else if (d.kind === 'externalService') {
      services.find((s) => s.name === d.name)?.destinations.forEach(add);
    } else {
      destinations.add(d.family);
    }
  };
  rule.destinations.forEach(add);
  return new Set([...pods].filter((f) => destinations.has(f)));
}

/**
 * Problems of the rules' `snat` with their device: the device's own translation must be one a
 * NAT policy can carry (a pool, or none), and each family of a rule's traffic needs a
 * translation address (and a gateway, when the device has gateways) of that family: an IPv4
 * pool for IPv6 pods would be NAT64, which this library does not set up.
 */
export function snatIssues(model: PolicyModel): PolicyIssue[] {
  const { device } = model;
  const rules = model.rules.filter((r) => r.snat);
  if (rules.length === 0) return [];
  const issues: PolicyIssue[] = [];
  if (device.snat === 'AUTOMAP') {
    issues.push({
      path: device.path,
      field: 'snat',
      value: 'EgressSnat.automap() (set, or the default)',
      message: `rule${rules.length > 1 ? 's' : ''} ${rules.map((r) => r.path).join(', ')} translate${rules.length > 1 ? '' : 's'} with ${rules.length > 1 ? 'their' : 'its'} own addresses, which puts an AFM NAT policy on the egress virtual server; the traffic of the other rules then takes the NAT policy's last rule, which cannot translate to automap (F5Networks/f5-appsvcs-extension#894). Set the device's snat to EgressSnat.pool([...]) or EgressSnat.none()`,
    });
  }
  const mapped = namespaceRouteDomains(device);
  for (const rule of rules) {
    const snat = rule.snat as RuleSnatModel;
    const value = `EgressSnat.pool(${quote(snat.addresses.map((a) => a.text))})`;
    // The NAT policy sits on the device's egress virtual server, and its translation addresses
    // are in the device's route domain; the mapped namespaces' virtual servers have neither.
    if (mapped.length) {
      issues.push({
        path: rule.path,
        field: 'snat',
        value,
        message: `device ${device.path} maps namespaces to route domains of their own (namespaceRouteDomains), whose egress virtual servers carry no NAT policy, and translation addresses are in one route domain: per-rule SNAT is not available there; remove snat from the rule, or the namespaceRouteDomains from the device`,
      });
      continue;
    }
    for (const family of [...ruleFamilies(rule, device, model.externalServices)].sort()) {
      const name = FAMILY[family];
      if (!snat.addresses.some((a) => a.family === family)) {
        issues.push({
          path: rule.path,
          field: 'snat',
          value,
          message: `the rule can carry ${name} traffic (its pods and destinations have ${name} addresses) and the pool has no ${name} address; translating to the other family would be NAT64, which is not supported: add an ${name} address to the pool, or narrow the destinations to one family`,
        });
      }
      if (device.gateways.length && !device.gateways.some((g) => g.family === family)) {
        issues.push({
          path: rule.path,
          field: 'snat',
          value,
          message: `the rule can carry ${name} traffic and the device's gateways have no ${name} address, so the translated traffic would have no next hop; add an ${name} gateway to the device, or narrow the destinations to one family`,
        });
      }
    }
  }
  return issues;
}

/** A rule's translation, as tools print it: `192.0.2.210, 192.0.2.211`. */
export function translationText(addresses: readonly Pick<AddressModel, 'text'>[]): string {
  return addresses.map((a) => a.text).join(', ');
}
