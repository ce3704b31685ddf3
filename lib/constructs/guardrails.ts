import { IConstruct } from 'constructs';
import { Annotations, Aspects, IAspect } from 'cdktf';
import { EgressDestination } from '../policy/destination';
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from '../policy/errors';
import { GuardrailSet, ruleViolations, validateGuardrailSet } from '../policy/guardrails';
import type { AddressModel, FqdnModel, PortModel } from '../policy/model';
import { EgressPort } from '../policy/port';
import { egressRuleOf } from './rules';

/** How a guardrail violation is reported. */
export enum GuardrailMode {
  /** Synth fails, naming the rule's construct path, the guardrail and the fix. */
  ENFORCE = 'ENFORCE',
  /** Synth succeeds with a warning annotation on the rule (a soft guardrail). */
  WARN = 'WARN',
}

/** Props of {@link EgressGuardrails}. */
export interface EgressGuardrailsProps {
  /**
   * Name shown in violations, so teams know whose guardrail they hit.
   * @default "egress guardrails"
   */
  readonly name?: string;
  /**
   * Fail synth, or only warn.
   * @default GuardrailMode.ENFORCE
   */
  readonly mode?: GuardrailMode;
  /**
   * Namespace and service rules may not allow every address (`0.0.0.0/0`, `::/0`).
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
   * Every rule (all levels) must name its owner.
   * @default false
   */
  readonly requireOwner?: boolean;
  /**
   * Every rule (all levels) must carry a ticket reference.
   * @default false
   */
  readonly requireTicket?: boolean;
  /**
   * Every rule (all levels) must say why it exists.
   * @default false
   */
  readonly requireJustification?: boolean;
}

const GUARDRAIL_NAMES = Symbol.for('cdktf-ces.GuardrailNames');
/** Brand of guardrail aspects, so AfmDevice can find them without importing this module. */
const GUARDRAILS_SYMBOL = Symbol.for('cdktf-ces.EgressGuardrails');

/**
 * Guardrails as a cdktf Aspect: the security team states an envelope once; every rule under
 * the scope it is applied to is checked at synth. Apply with `EgressGuardrails.applyTo(app,
 * {...})` (or `Aspects.of(scope).add(new EgressGuardrails({...}))`) to an app or a stack.
 *
 * cdktf invokes aspects from each stack down, so aspects on the App itself are not invoked
 * by cdktf; every AfmDevice therefore also applies the guardrails found on its rules'
 * ancestors while it validates. A rule is checked once either way.
 */
export class EgressGuardrails implements IAspect {
  /** Applies a guardrail set to every rule under `scope`. */
  public static applyTo(scope: IConstruct, props: EgressGuardrailsProps = {}): EgressGuardrails {
    const guardrails = new EgressGuardrails(props);
    const names: Set<string> = ((scope as unknown as Record<symbol, Set<string>>)[GUARDRAIL_NAMES] ??= new Set());
    if (names.has(guardrails.name)) {
      throw new EgressPolicyError([
        {
          path: scope.node.path || '(app)',
          field: 'name',
          value: quote(guardrails.name),
          message: 'a guardrail set of this name is already applied here; merge the two sets or give them different names',
        },
      ]);
    }
    names.add(guardrails.name);
    Aspects.of(scope).add(guardrails);
    return guardrails;
  }

  /** Name shown in violations. */
  public readonly name: string;
  private readonly set: GuardrailSet;
  private readonly counts = new Map<string, number>();
  private readonly visited = new WeakSet<IConstruct>();

  constructor(props: EgressGuardrailsProps = {}) {
    Object.defineProperty(this, GUARDRAILS_SYMBOL, { value: true });
    this.name = props.name ?? 'egress guardrails';
    const where = `guardrails "${this.name}"`;
    const issues: PolicyIssue[] = [];
    const convert = <T, M>(items: T[] | undefined, field: string, toModel: (x: T) => M): M[] | undefined =>
      items?.flatMap((item, i) => {
        try {
          return [toModel(item)];
        } catch (e) {
          if (!(e instanceof InvalidValueError)) throw e;
          issues.push({ path: where, field: `${field}[${i}]`, value: e.value, message: e.problem });
          return [];
        }
      });
    const allowedDestinations = convert(props.allowedDestinations, 'allowedDestinations', (d) => {
      const m = d._toModel();
      if (m.kind === 'externalService') throw new InvalidValueError(quote(m.name), 'list addresses and names directly; an envelope cannot refer to an external service');
      return m as AddressModel | FqdnModel;
    });
    const allowedPorts = convert(props.allowedPorts, 'allowedPorts', (p): PortModel => p._toModel());
    if (issues.length) throw new EgressPolicyError(issues);
    this.set = {
      name: this.name,
      warnOnly: props.mode === GuardrailMode.WARN,
      forbidCatchAll: props.forbidCatchAll ?? true,
      forbidWildcardFqdns: props.forbidWildcardFqdns ?? false,
      allowedDestinations,
      allowedPorts,
      maxRulesPerNamespace: props.maxRulesPerNamespace,
      requireOwner: props.requireOwner ?? false,
      requireTicket: props.requireTicket ?? false,
      requireJustification: props.requireJustification ?? false,
    };
    validateGuardrailSet(this.set, where);
  }

  public visit(node: IConstruct): void {
    const rule = egressRuleOf(node);
    if (!rule || this.visited.has(node)) return;
    this.visited.add(node);
    const { model, device } = rule;
    let position = 0;
    if (model.level !== 'cluster') {
      const key = `${device.node.path}\u0000${model.namespace}`;
      position = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, position);
    }
    const externalServices = device._externalServiceModels();
    for (const v of ruleViolations(this.set, model, externalServices, position)) {
      const message = `guardrail ${v.guardrail} of "${this.name}": ${v.message}`;
      if (this.set.warnOnly) Annotations.of(node).addWarning(message);
      else Annotations.of(node).addError(message);
    }
  }
}
