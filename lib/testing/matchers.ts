/**
 * Jest matchers for users' own policy tests:
 *
 * ```ts
 * // jest.setup.ts (setupFilesAfterEnv)
 * import { setupEgressMatchers } from 'cdktf-ces/testing';
 * setupEgressMatchers();
 *
 * // payments.test.ts
 * expect(stack).toAllowEgress('payments/checkout', 'api.stripe.com:443');
 * expect(stack).toDenyEgress('payments/comments', '203.0.113.5:25', { resolve: { ... } });
 * ```
 *
 * The subject is a construct holding one AfmDevice (a TerraformStack, the App, or the device
 * itself). The verdict comes from the AFM evaluator over the AS3 declaration and tmsh
 * commands the device would deploy, exactly as `cdktf-ces explain` computes it without
 * cluster state:
 * - `from` is `<namespace>/<service>`: a pod of that namespace selected by that Service, with
 *   `options.labels` as further pod labels (for namespace and cluster rules that select by label);
 * - `to` is `<host-or-ip>:<port>[/<protocol>]` (protocol defaults to tcp; `[v6]:port`;
 *   `<host>/icmp` for protocols without ports). One destination, not a CIDR: to state
 *   something about a range, test the addresses that matter (its edges, a known-bad host).
 *   A host name matches FQDN rules by name; give `options.resolve` to let address and CIDR
 *   rules see its addresses too (every address must then get the expected verdict).
 * - `toDenyEgress` accepts both DENY (drop) and REJECT; `toRejectEgress` only REJECT (the
 *   client gets a TCP reset or ICMP unreachable at once instead of waiting for a timeout).
 * - `toBeDecidedBy(from, to, rule)` passes when the rule `rule` names decides every packet of the
 *   flow, whatever its verdict: a rule construct, `<Kind> <namespace>/<name>`,
 *   `<namespace>/<name>`, a cluster rule's name, a construct path, or `device default`.
 */
import { TerraformStack } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { contextCommands, deviceCommands, renderSharedAs3 } from '../afm/as3';
import { AfmDevice } from '../constructs/afm-device';
import { expiredRules } from '../policy/plan';
import { buildSyncPlan } from '../k8s/sync-plan';
import { CompiledPolicy } from '../policy/compile';
import { checkDnsAnswer } from '../analysis/cluster-state';
import { Explanation, PolicyView, explain, parseDestination, parseSource, policyView } from '../analysis/engine';
import { decidedByMatches, decidedByText, formatExplanation, verdictText } from '../analysis/format';
import { UsageError } from '../files/usage-error';
import { DeviceNames, deviceLabel, selectDevice } from '../analysis/device-name';

/** Options of {@link toAllowEgress} and {@link toDenyEgress}. */
export interface EgressExpectationOptions {
  /** Labels of the source pod (besides being selected by the Service `from` names). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Labels of the source pod's namespace (`kubernetes.io/metadata.name` is always set). */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /** DNS answers: host name → address(es). */
  readonly resolve?: Readonly<Record<string, string | readonly string[]>>;
  /** When (time windows and expiry). @default now */
  readonly at?: Date | string;
  /** Which AfmDevice when the subject holds several: its tenant, cluster name, `<stack>/<tenant>` or construct path. */
  readonly device?: string;
}

interface MatcherResult {
  readonly pass: boolean;
  readonly message: () => string;
}

const views = new WeakMap<CompiledPolicy, PolicyView>();

/** What the BIG-IP would hold for this device: its declaration(s) and tmsh commands. */
function deployed(device: AfmDevice): { as3: unknown[]; commands: string[] } {
  const compiled = device._compile();
  const own = JSON.parse(device._as3Json()) as unknown;
  const shared = device.sharedBigip;
  if (!shared) return { as3: [own], commands: deviceCommands(compiled).apply };
  // A shared BIG-IP: /Common/Shared and the contexts come from the SharedBigip, rendered from
  // every device attached to it.
  const attached = device.node.root.node
    .findAll()
    .filter((c): c is AfmDevice => AfmDevice.isAfmDevice(c) && c.sharedBigip === shared)
    .map((d) => d._compile());
  return { as3: [own, renderSharedAs3(shared.name, attached)], commands: contextCommands(shared.name, attached, shared.dnsResolver).apply };
}

function viewOf(device: AfmDevice): PolicyView {
  const compiled = device._compile();
  let view = views.get(compiled);
  if (!view) {
    view = policyView({
      label: deviceLabel(namesOfDevice(device)),
      model: compiled.model,
      plan: buildSyncPlan(compiled),
      ...deployed(device),
      expired: expiredRules(compiled),
    });
    views.set(compiled, view);
  }
  return view;
}

/** The names of a device, as the synth output's (its stack's folder is the stack's id). */
function namesOfDevice(device: AfmDevice): DeviceNames {
  return { stack: TerraformStack.of(device).node.id, tenant: device.tenant, cluster: device.clusterName, path: device.node.path };
}

function deviceOf(subject: unknown, wanted: string | undefined): AfmDevice {
  if (!Construct.isConstruct(subject)) {
    throw new Error(
      `expect(...) of an egress matcher takes a construct holding an AfmDevice (a TerraformStack, the App or the device), got ${typeof subject}`,
    );
  }
  const devices = (subject as IConstruct).node.findAll().filter((c): c is AfmDevice => AfmDevice.isAfmDevice(c));
  if (devices.length === 0)
    throw new Error(`no AfmDevice under ${(subject as IConstruct).node.path || 'the app'}; pass the stack that holds the device`);
  // Named as the command-line tools name them (lib/analysis/device-name).
  return selectDevice(devices, wanted, namesOfDevice, {
    option: 'options.device',
    chooseWith: "the option { device: '<device>' }",
    within: (subject as IConstruct).node.path || 'the app',
  });
}

/** Evaluates one expectation; throws a readable Error on bad arguments. */
export function explainEgress(subject: unknown, from: string, to: string, options: EgressExpectationOptions = {}): Explanation {
  try {
    const view = viewOf(deviceOf(subject, options.device));
    const table = new Map<string, readonly string[]>();
    const origin = new Map<string, string>();
    for (const [name, ips] of Object.entries(options.resolve ?? {})) {
      table.set(name, checkDnsAnswer(name, typeof ips === 'string' ? [ips] : [...ips], 'options.resolve'));
      origin.set(name, 'options.resolve');
    }
    const at = options.at === undefined ? new Date() : new Date(options.at);
    if (Number.isNaN(at.getTime())) throw new UsageError('options.at', JSON.stringify(options.at), 'give a Date or an ISO 8601 time');
    return explain(
      view,
      undefined,
      { table, origin },
      {
        from: {
          ...parseSource(from, 'from'),
          ...(options.labels ? { labels: options.labels } : {}),
          ...(options.namespaceLabels ? { namespaceLabels: options.namespaceLabels } : {}),
        },
        to: parseDestination(to, 'to'),
        at,
      },
    );
  } catch (e) {
    if (e instanceof UsageError) throw new Error(e.message);
    throw e;
  }
}

type Expected = 'allowed' | 'denied' | 'rejected';

function result(expected: Expected, e: Explanation, from: string, to: string): MatcherResult {
  const pass =
    expected === 'allowed'
      ? e.verdict === 'allow'
      : expected === 'rejected'
        ? e.verdict === 'reject'
        : e.verdict === 'deny' || e.verdict === 'reject';
  return {
    pass,
    message: () =>
      `${pass ? `expected ${from} not to be ${expected} egress to ${to}, but it is` : `expected ${from} to be ${expected} egress to ${to}, but the verdict is ${verdictText(e.verdict)}`}\n\n${formatExplanation(e)}`,
  };
}

/** `expect(stack).toAllowEgress('payments/checkout', 'api.stripe.com:443')`. */
export function toAllowEgress(received: unknown, from: string, to: string, options?: EgressExpectationOptions): MatcherResult {
  return result('allowed', explainEgress(received, from, to, options), from, to);
}

/** `expect(stack).toDenyEgress('payments/comments', '203.0.113.5:25')`; DENY or REJECT. */
export function toDenyEgress(received: unknown, from: string, to: string, options?: EgressExpectationOptions): MatcherResult {
  return result('denied', explainEgress(received, from, to, options), from, to);
}

/** `expect(stack).toRejectEgress('payments/checkout', 'smtp.example.net:25')`; REJECT only. */
export function toRejectEgress(received: unknown, from: string, to: string, options?: EgressExpectationOptions): MatcherResult {
  return result('rejected', explainEgress(received, from, to, options), from, to);
}

/** What `rule` of {@link toBeDecidedBy} names, as text. */
function ruleText(rule: unknown): string {
  if (typeof rule === 'string') return rule;
  if (Construct.isConstruct(rule)) return (rule as IConstruct).node.path;
  throw new Error(
    `toBeDecidedBy takes the rule as a construct or as text such as "ServiceEgressRule payments/checkout-to-stripe", got ${rule === null ? 'null' : typeof rule}`,
  );
}

/**
 * `expect(stack).toBeDecidedBy('payments/checkout', 'api.stripe.com:443', checkoutToStripe)`:
 * the rule decides every packet of the flow (as enforced; audit rules never decide).
 */
export function toBeDecidedBy(
  received: unknown,
  from: string,
  to: string,
  rule: IConstruct | string,
  options?: EgressExpectationOptions,
): MatcherResult {
  const wanted = ruleText(rule);
  const e = explainEgress(received, from, to, options);
  const pass = e.flows.every((f) => decidedByMatches(f.enforced, wanted));
  const actual = [...new Set(e.flows.map((f) => decidedByText(f.enforced)))].join('; ');
  return {
    pass,
    message: () =>
      `${pass ? `expected egress from ${from} to ${to} not to be decided by ${wanted}, but it is` : `expected egress from ${from} to ${to} to be decided by ${wanted}, but it is decided by ${actual}`}\n\n${formatExplanation(e)}`,
  };
}

/**
 * `expect(stack).toRedirectEgress('shop/web', '93.184.216.34:443', 'inspection-proxies')`: the flow
 * is allowed and leaves through the gateways of that redirect (see docs/redirection.md).
 */
export function toRedirectEgress(
  received: unknown,
  from: string,
  to: string,
  redirect: string,
  options?: EgressExpectationOptions,
): MatcherResult {
  const e = explainEgress(received, from, to, options);
  const via = (f: Explanation['flows'][number]) => f.enforced.nextHop?.redirect;
  const pass = e.verdict === 'allow' && e.flows.every((f) => via(f) !== undefined && via(f)!.split('", "').includes(redirect));
  const actual =
    e.verdict !== 'allow'
      ? `the verdict is ${verdictText(e.verdict)}`
      : `it leaves ${[...new Set(e.flows.map((f) => (via(f) ? `through redirect "${via(f)}"` : 'through the device gateways')))].join('; ')}`;
  return {
    pass,
    message: () =>
      `${pass ? `expected egress from ${from} to ${to} not to be redirected to "${redirect}", but it is` : `expected egress from ${from} to ${to} to be allowed and redirected to "${redirect}", but ${actual}`}\n\n${formatExplanation(e)}`,
  };
}

/** The matchers, for `expect.extend(egressMatchers)`. */
export const egressMatchers = { toAllowEgress, toDenyEgress, toRejectEgress, toBeDecidedBy, toRedirectEgress };

/** Registers the matchers with Jest's `expect`; call it in a `setupFilesAfterEnv` file. */
export function setupEgressMatchers(): void {
  const jestExpect = (globalThis as { expect?: { extend?: (m: Record<string, unknown>) => void } }).expect;
  if (typeof jestExpect?.extend !== 'function') {
    throw new Error(
      'setupEgressMatchers() needs Jest\'s global expect; call it from a file listed in "setupFilesAfterEnv" of the Jest config',
    );
  }
  jestExpect.extend(egressMatchers);
}

declare global {
  namespace jest {
    interface Matchers<R> {
      /** The pods of `from` (`<namespace>/<service>`) may reach `to` (`<host-or-ip>:<port>[/<protocol>]`). */
      toAllowEgress(from: string, to: string, options?: EgressExpectationOptions): R;
      /** The pods of `from` may not reach `to` (DENY or REJECT). */
      toDenyEgress(from: string, to: string, options?: EgressExpectationOptions): R;
      /** The pods of `from` are refused `to` with REJECT (a reset or ICMP unreachable), not dropped. */
      toRejectEgress(from: string, to: string, options?: EgressExpectationOptions): R;
      /**
       * The rule decides every packet from `from` to `to`: a rule construct, `<Kind> <namespace>/<name>`,
       * `<namespace>/<name>`, a cluster rule's name, a construct path, or `device default`.
       */
      toBeDecidedBy(from: string, to: string, rule: IConstruct | string, options?: EgressExpectationOptions): R;
      /** The flow is allowed and leaves through the gateways of the named EgressRedirect. */
      toRedirectEgress(from: string, to: string, redirect: string, options?: EgressExpectationOptions): R;
    }
  }
}
