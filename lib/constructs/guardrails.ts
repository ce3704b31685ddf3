import { Construct, IConstruct } from 'constructs';
import { Annotations, Aspects, IAspect, TerraformStack } from 'cdktf';
import { EgressDestination } from '../policy/destination';
import { EgressPolicyError, quote } from '../policy/errors';
import { GuardrailSet, GuardrailViolation, buildGuardrailSet, guardrailSetPath, guardrailViolations } from '../policy/guardrails';
import type { RuleModel } from '../policy/model';
import { EgressPort } from '../policy/port';
import type { AfmDevice } from './afm-device';
import { collectProblems, recordProblems } from './problems';
import { egressRuleOf } from './rules';

/** How a guardrail violation is reported. */
export enum GuardrailMode {
  /** Synth fails, naming the rule's construct path, the guardrail and the fix. */
  ENFORCE = 'ENFORCE',
  /** Synth succeeds with a warning annotation on the rule (a soft guardrail). */
  WARN = 'WARN',
}

/** What synth does with a rule whose `expiresAt` has come (it is not enforced either way). */
export enum ExpiredRuleMode {
  /** Synth fails, naming the rule, until it is deleted or renewed. */
  FAIL = 'FAIL',
  /** Synth succeeds with a warning on the rule, so unrelated changes still ship. */
  WARN = 'WARN',
}

/** Props of {@link EgressGuardrails}. Unknown props fail (a misspelled guardrail never switches itself off). */
export interface EgressGuardrailsProps {
  /**
   * Name shown in violations, so teams know whose guardrail they hit (1 to 64 characters).
   * @default "egress guardrails"
   */
  readonly name?: string;
  /**
   * Fail synth, or only warn.
   * @default GuardrailMode.ENFORCE
   */
  readonly mode?: GuardrailMode;
  /**
   * Namespace and service rules may not allow every address of a family (IPv4 or IPv6), on
   * their own or together: the union of a rule's destinations (external services included)
   * and the union of the ALLOW and ALLOW_FINAL rules of one source on one port are tested, so
   * `0.0.0.0/1` plus `128.0.0.0/1` is a catch-all. One source is the pods of one namespace
   * and pod selector (with the rules of broader selectors of that namespace), or of one
   * Service (with its namespace's rules that have no pod selector).
   * @default true
   */
  readonly forbidCatchAll?: boolean;
  /**
   * Namespace and service rules may not allow wildcard FQDNs (`*.example.com`).
   * @default false
   */
  readonly forbidWildcardFqdns?: boolean;
  /**
   * The envelope: every destination a namespace or service rule allows must lie inside these
   * networks, or be one of these names (a `*.` entry admits the names one label below it).
   * @default - no envelope
   */
  readonly allowedDestinations?: EgressDestination[];
  /**
   * Ports namespace and service rules may allow.
   * @default - any port
   */
  readonly allowedPorts?: EgressPort[];
  /**
   * Most namespace and service rules one namespace may have.
   * @default - no cap
   */
  readonly maxRulesPerNamespace?: number;
  /**
   * Every rule (all levels) must name its owner, with at least one letter or digit.
   * @default false
   */
  readonly requireOwner?: boolean;
  /**
   * Every rule (all levels) must carry a ticket reference, with at least one letter or digit.
   * @default false
   */
  readonly requireTicket?: boolean;
  /**
   * Every rule (all levels) must say why it exists, with at least one letter or digit.
   * @default false
   */
  readonly requireJustification?: boolean;
  /**
   * Construct paths under which ClusterEgressRules may be declared: `node.path` of a scope,
   * such as `"security"` (a stack) or `"platform/security"`. A path covers that construct and
   * everything below it, by whole path segments (`"security"` does not cover
   * `"security-evil"`). The scopes in `emergencyRuleScopes` may declare cluster rules too.
   * @default - cluster rules may be declared anywhere
   */
  readonly clusterRuleScopes?: string[];
  /**
   * Reserves cluster-rule priorities 0 to this value for the emergency rules under
   * `emergencyRuleScopes`, so that no other cluster rule sorts before them (0–999; needs
   * `emergencyRuleScopes`).
   * @default - no priorities reserved
   */
  readonly emergencyPriorityMax?: number;
  /**
   * Construct paths (as in `clusterRuleScopes`) whose cluster rules may use the priorities
   * reserved by `emergencyPriorityMax`; they may declare cluster rules of any priority.
   * @default - none (needed with emergencyPriorityMax)
   */
  readonly emergencyRuleScopes?: string[];
  /**
   * What synth does with the rules (all levels) this set governs once their `expiresAt` has
   * come. An expired rule is never enforced; FAIL also stops every synth of the app until the
   * rule is deleted or renewed, which holds unrelated changes (an emergency DENY among them).
   * @default ExpiredRuleMode.WARN
   */
  readonly expiredRules?: ExpiredRuleMode;
  /**
   * Days ahead of a rule's `expiresAt` from which synth warns (0–3660). When several sets
   * govern a rule, the longest window wins.
   * @default 14
   */
  readonly expiryWarningDays?: number;
}

const GUARDRAIL_NAMES = Symbol.for('cdktf-ces.GuardrailNames');
/** Brand of guardrail aspects, so AfmDevice can find them without importing this module. */
const GUARDRAILS_SYMBOL = Symbol.for('cdktf-ces.EgressGuardrails');
/** The expiry settings AfmDevice reads when it checks its rules' expiry. */
const EXPIRY_SETTINGS = Symbol.for('cdktf-ces.ExpirySettings');

/**
 * Guardrails as a cdktf Aspect: the security team states an envelope once; every rule under
 * the scope it is applied to is checked at synth. Apply with `EgressGuardrails.applyTo(app,
 * {...})` (or `Aspects.of(scope).add(new EgressGuardrails({...}))`) to an app or a stack.
 *
 * cdktf invokes aspects from each stack down, so aspects on the App itself are not invoked
 * by cdktf; every AfmDevice therefore also applies the guardrails found on its rules'
 * ancestors while it validates. A rule is checked once either way.
 *
 * The rules a guardrail set governs are those under the scopes it is applied to; checks that
 * combine rules (the catch-all union, the per-namespace cap) combine only those, per device.
 */
export class EgressGuardrails implements IAspect {
  /** Applies a guardrail set to every rule under `scope`. */
  public static applyTo(scope: IConstruct, props: EgressGuardrailsProps = {}): EgressGuardrails {
    if (!Construct.isConstruct(scope)) {
      throw new EgressPolicyError([
        {
          path: guardrailSetPath(props),
          field: 'scope',
          value: quote(scope),
          message: 'must be a construct (the App, a stack or a construct in one): EgressGuardrails.applyTo(app, { ... })',
        },
      ]);
    }
    // Refused props are recorded on the scope and reported at synth with every other problem of
    // the app (each AfmDevice below the scope reports them too, so that its rules are never
    // written without the guardrails meant for them); the refused set is not applied.
    const guardrails = collectProblems(scope, () => {
      const set = new EgressGuardrails(props);
      const names: Set<string> = ((scope as unknown as Record<symbol, Set<string>>)[GUARDRAIL_NAMES] ??= new Set());
      if (names.has(set.name)) {
        throw new EgressPolicyError([
          {
            path: scope.node.path || '(app)',
            field: 'name',
            value: quote(set.name),
            message: 'a guardrail set of this name is already applied here; merge the two sets or give them different names',
          },
        ]);
      }
      names.add(set.name);
      return set;
    });
    if (!guardrails) return refusedGuardrails(props);
    Aspects.of(scope).add(guardrails);
    return guardrails;
  }

  /** Name shown in violations. */
  public readonly name: string;
  private readonly set: GuardrailSet;
  private readonly visited = new WeakSet<IConstruct>();
  /** Per device: the paths of the rules judged so far and their violations. */
  private readonly verdicts = new WeakMap<AfmDevice, { judged: Set<string>; violations: Map<string, GuardrailViolation[]> }>();

  constructor(props: EgressGuardrailsProps = {}) {
    Object.defineProperty(this, GUARDRAILS_SYMBOL, { value: true });
    this.set = buildGuardrailSet(props);
    this.name = this.set.name;
    Object.defineProperty(this, EXPIRY_SETTINGS, {
      value: { name: this.name, warningDays: this.set.expiryWarningDays, failExpired: this.set.failExpiredRules },
    });
  }

  public visit(node: IConstruct): void {
    // A refused set (see applyTo) checks nothing: its problems fail synth.
    if (!this.set) return;
    const rule = egressRuleOf(node);
    // A rule construct whose props were refused has no model; its error is already reported.
    if (!rule?.model || this.visited.has(node)) return;
    this.visited.add(node);
    const violations = this.violationsOf(node, rule.model, rule.device);
    if (this.set.warnOnly) {
      for (const v of violations) Annotations.of(node).addWarning(`guardrail ${v.guardrail} of "${this.name}": ${v.message}`);
    } else {
      // Reported at synth with every other problem of the app; the value is the rule judged.
      recordProblems(
        node,
        violations.map((v) => ({
          path: rule.model.path,
          field: `guardrail ${v.guardrail} of "${this.name}"`,
          value: quote(rule.model.name),
          message: v.message,
        })),
      );
    }
  }

  /**
   * The violations of one rule. Rules are judged together, per device, because the catch-all
   * union and the per-namespace cap span rules: the first visit judges every rule of the
   * device this set governs (visits come at synth, when the tree is complete).
   */
  private violationsOf(node: IConstruct, model: RuleModel, device: AfmDevice): GuardrailViolation[] {
    let verdict = this.verdicts.get(device);
    if (!verdict || !verdict.judged.has(model.path)) {
      const rules = this.governedRules(device, node);
      verdict = {
        judged: new Set(rules.map((r) => r.path)),
        violations: guardrailViolations(this.set, rules, device._externalServiceModels()),
      };
      this.verdicts.set(device, verdict);
    }
    return verdict.violations.get(model.path) ?? [];
  }

  /** The device's rules under a scope this set is applied to (and `visited`), in tree order. */
  private governedRules(device: AfmDevice, visited: IConstruct): RuleModel[] {
    const governed = new Map<IConstruct, boolean>();
    const governs = (c: IConstruct | undefined): boolean => {
      if (!c) return false;
      let known = governed.get(c);
      if (known === undefined) {
        known = Aspects.of(c).all.includes(this) || governs(c.node.scope);
        governed.set(c, known);
      }
      return known;
    };
    const rules: RuleModel[] = [];
    for (const c of TerraformStack.of(device).node.findAll()) {
      const rule = egressRuleOf(c);
      if (rule && rule.device === device && (c === visited || governs(c))) rules.push(rule.model);
    }
    return rules;
  }
}

/**
 * What `applyTo` returns for props it refused: a set that governs nothing, named as the props
 * name it (when that name is valid). It is not applied anywhere.
 */
function refusedGuardrails(props: EgressGuardrailsProps): EgressGuardrails {
  const named = /^guardrails "(.*)"$/.exec(guardrailSetPath(props));
  return Object.create(EgressGuardrails.prototype, { name: { value: named ? named[1] : '', enumerable: true } }) as EgressGuardrails;
}
