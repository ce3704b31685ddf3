/**
 * The source address an allowed flow leaves with, as the tools show it: the rule whose `snat`
 * translated it (a NAT rule of the virtual server's NAT policy), or the device's own snat.
 */
import type { AfmEvaluation, AfmRuleIndex, AfmRuleOwner } from '../afm/evaluator';

export interface TranslationView {
  /** The addresses the flow leaves with; empty for automap and none. */
  readonly addresses: readonly string[];
  /** The rule whose `snat` translates the flow; absent when the device's snat does. */
  readonly rule?: AfmRuleOwner;
  /** The device's snat when it translates: `pool`, `automap`, `none` (the pod address), `self`. */
  readonly device?: 'pool' | 'automap' | 'none' | 'self';
}

/** The translation of an evaluated flow; undefined when the flow is not let through. */
export function translationView(evaluation: AfmEvaluation, owners: AfmRuleIndex): TranslationView | undefined {
  const t = evaluation.translatedSource;
  if (!t) return undefined;
  if (t.by === 'nat-rule') {
    // The NAT policy's last rule is the device's own pool; every other rule is a rule's.
    const rule = owners.ownerOf({ rule: t.rule, ruleList: t.policy });
    return rule ? { addresses: t.addresses, rule } : { addresses: t.addresses, device: 'pool' };
  }
  if (t.snat === 'pool') return { addresses: t.addresses ?? [], device: 'pool' };
  return { addresses: [], device: t.snat === 'auto' ? 'automap' : t.snat };
}

/** `192.0.2.210 (snat of NamespaceEgressRule payments/partner)`, `the pod's own address (device snat none)`. */
export function translationText(t: TranslationView, ruleName: (rule: AfmRuleOwner) => string): string {
  if (t.rule) return `${t.addresses.join(', ')} (snat of ${ruleName(t.rule)})`;
  switch (t.device) {
    case 'automap':
      return 'a self IP of the egress VLAN (device snat automap)';
    case 'none':
      return "the pod's own address (device snat none)";
    case 'self':
      return "the virtual server's address (snat self)";
    default:
      return `${t.addresses.join(', ')} (device snat pool)`;
  }
}
