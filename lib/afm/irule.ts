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
import { encodeIRule, onMatchIRuleText } from '../policy/irule';

/** The text of a rule's onMatch iRule: the bandwidth attach block first when it has a limit. */
export function onMatchText(rule: CompiledRule): string | undefined {
  const code = rule.model.onMatch?.code;
  if (code === undefined) return undefined;
  const policy = rule.bandwidth?.policy;
  return onMatchIRuleText(code, policy === undefined ? undefined : policy.slice(policy.lastIndexOf('/') + 1));
}

export function onMatchObjects(
  rules: readonly CompiledRule[],
  put: (name: string, obj: Record<string, unknown>) => void,
  clip: (text: string) => string,
): void {
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
