/**
 * AS3 objects of rules' onMatch code: one `iRule` class per rule that has it, in
 * /Common/Shared beside the rule lists that point at it.
 *
 * The text is carried as `{ base64 }` with `expand: false`. AS3 expands backquote escapes in
 * iRule text when `expand` is true (its default) and the value is a string (AS3
 * `src/lib/tag/expandTag.js`, `src/lib/util/expandUtil.js` backquoteExpand, which throws on an
 * unknown escape), so `expand: false` alone already keeps Tcl's backquotes intact; base64 also
 * keeps the text out of reach of Terraform's `${…}` and `%{…}` templates, since the declaration
 * reaches `bigip_as3.as3_json` as a plain JSON string that Terraform reads as a template.
 */
import type { CompiledRule } from '../policy/compile';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { encodeIRule, onMatchIRuleText } from '../policy/irule';
import type { DeviceModel } from '../policy/model';

/** The text of a rule's onMatch iRule: the bandwidth attach block first when it has a limit. */
export function onMatchText(rule: CompiledRule): string | undefined {
  const code = rule.model.onMatch?.code;
  if (code === undefined) return undefined;
  const policy = rule.bandwidth?.policy;
  return onMatchIRuleText(code, policy === undefined ? undefined : policy.slice(policy.lastIndexOf('/') + 1));
}

/**
 * The iRule objects of a device's rules. A device in audit mode refuses them: it must not change
 * traffic, and whether AFM runs the iRule of a staged rule is not documented (the rule-level
 * `audit` is refused with the rule's props).
 */
export function onMatchObjects(
  device: DeviceModel,
  rules: readonly CompiledRule[],
  put: (name: string, obj: Record<string, unknown>) => void,
  clip: (text: string) => string,
): void {
  if (device.audit) {
    const issues: PolicyIssue[] = rules.flatMap((rule) =>
      rule.model.onMatch
        ? [
            {
              path: rule.model.path,
              field: 'onMatch',
              value: quote(rule.model.onMatch.source),
              message: `the device ${device.path} is in audit mode, which must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the device enforces, or turn its audit mode off`,
            },
          ]
        : [],
    );
    if (issues.length) throw new EgressPolicyError(issues);
  }
  for (const rule of rules) {
    const text = onMatchText(rule);
    if (!rule.onMatch || text === undefined) continue;
    put(rule.onMatch.iRuleName, {
      class: 'iRule',
      remark: clip(`${rule.bandwidth ? 'bandwidth and onMatch' : 'onMatch'} iRule of ${rule.key}`),
      expand: false,
      iRule: encodeIRule(text),
    });
  }
}
