import { Construct } from 'constructs';
import { Lazy, TerraformStack } from 'cdktf';
import { BigipAs3 } from '../../providers/bigip/as3';
import type { BigipProvider } from '../../providers/bigip/provider';
import { renderSharedAs3 } from '../afm/as3';
import { expectedDeviceState } from '../afm/device-state';
import { z } from 'zod';
import { BIGIP_PATH, parseProps, throwIssues } from '../policy/device';
import { EgressPolicyError, PolicyIssue, formatIssue, quote, unlessInvalid } from '../policy/errors';
import { parseAddressEntry } from '../policy/ip';
import { tenantProblem } from '../policy/names';
import type { CompiledPolicy } from '../policy/compile';
import { readStruct } from '../policy/struct';
import type { AfmDevice } from './afm-device';
import {
  BigipConnectionProps,
  CONNECTION_OVERRIDES,
  CONNECTION_PROPS,
  ContextOwnership,
  bigipProvider,
  check,
  claimEndpoint,
  connectionIssues,
  endpointClaimIssue,
  misplacedProps,
} from './connection';
import { checkedConstructId } from './construct-id';
import { refused } from './problems';
import { namespaceRouteDomains } from '../policy/route-domains';

const SHARED_SYMBOL = Symbol.for('cdktf-ces.SharedBigip');

const sharedBigipSchema = z.strictObject({
  ...CONNECTION_PROPS,
  name: z.string({ error: 'expected a string' }).superRefine(check(tenantProblem)).optional(),
  dnsResolver: z
    .string({ error: 'expected a BIG-IP path' })
    .regex(BIGIP_PATH, { error: 'must be the BIG-IP path of a DNS resolver, such as "/Common/egress-resolver"' })
    .optional(),
});
const SHARED_FIELDS = Object.keys(sharedBigipSchema.shape);
const SHARED_HINTS = {
  what: 'a SharedBigip',
  expected: '{ address, tlsCaBundlePath, credentials?, port?, name?, dnsResolver? }',
  misplaced: misplacedProps(SHARED_FIELDS, {
    ...CONNECTION_OVERRIDES,
    clusterName: 'each cluster has its own AfmDevice with sharedBigip: <this SharedBigip>; set clusterName there',
    tenant: 'each cluster has its own AfmDevice with sharedBigip: <this SharedBigip>; set tenant there',
  }),
};

/** Props of {@link SharedBigip}. */
export interface SharedBigipProps extends BigipConnectionProps {
  /**
   * Prefix of the shared context objects in `/Common/Shared` (the global and route-domain
   * policies). Letters, digits and "_"; unique per BIG-IP.
   * @default "cdktf_ces"
   */
  readonly name?: string;
  /**
   * BIG-IP path of the `net dns-resolver` for FQDN destinations of any attached cluster. It is
   * set as the BIG-IP's global FQDN resolver before the shared declaration is deployed; the
   * deploy refuses to replace a resolver that is already set to another one.
   * @default - none (FQDN destinations fail synth)
   */
  readonly dnsResolver?: string;
}

/**
 * A BIG-IP shared by several clusters. Each cluster's AfmDevice keeps its own AS3 tenant with
 * its egress virtual server; the objects every context policy must reference live in
 * `/Common/Shared`, which one AS3 declaration owns as a whole (a second declaration of `Common`
 * would replace the first). So this construct owns that declaration: every attached device's
 * lists, rule lists and virtual-server policies, the one global policy and one policy per route
 * domain in use, and the tmsh commands that set the resolver and attach the context policies,
 * refusing what another owner set. Devices depend on it, so it is deployed first.
 *
 * Clusters in one route domain must not have overlapping pod CIDRs (their source lists would
 * be ambiguous); put such clusters in different route domains.
 */
export class SharedBigip extends Construct {
  /** Whether `x` is a SharedBigip (works across copies of this library). */
  public static isSharedBigip(x: unknown): x is SharedBigip {
    return typeof x === 'object' && x !== null && SHARED_SYMBOL in x;
  }

  /** Prefix of the shared context objects. */
  public readonly name!: string;
  /** The connection, reused by devices in other stacks for their own provider. */
  public readonly connection!: BigipConnectionProps;
  public readonly provider!: BigipProvider;
  /** The AS3 declaration of `/Common/Shared`. */
  public readonly declaration!: BigipAs3;
  /** The FQDN resolver of the BIG-IP, if set. */
  public readonly dnsResolver?: string;
  private readonly devices: AfmDevice[] = [];
  private readonly ownership!: ContextOwnership;
  /** Whether a device that names this SharedBigip was refused (so this one is not unused). */
  private usedByRefusedDevice = false;
  /** Providers of devices in other stacks: one per stack, since an alias may appear only once in a configuration. */
  private readonly providers = new Map<TerraformStack, BigipProvider>();

  constructor(scope: Construct, id: string, props: SharedBigipProps) {
    super(scope, checkedConstructId(scope, id, 'a SharedBigip'));
    Object.defineProperty(this, SHARED_SYMBOL, { value: true });
    const at = this.node.path;
    // Own keys only: a value other code put on Object.prototype is never read as a prop.
    const ownProps: unknown = readStruct(props, '').data ?? props;
    const { value: p, issues } = parseProps(sharedBigipSchema, ownProps, at, SHARED_HINTS);
    // Refused props are reported at synth with every other problem of the app; a refused
    // SharedBigip is not built (no provider, declaration or command), nor its devices.
    if (p === undefined && issues[0]?.field === '(props)' && refused(this, () => throwIssues(issues, SHARED_FIELDS))) return;
    issues.push(...connectionIssues(ownProps as Record<string, unknown>, at));
    const claim = p?.address !== undefined ? endpointClaimIssue(this, p.address, p.port) : undefined;
    if (claim) issues.push(claim);
    if (refused(this, () => throwIssues(issues, SHARED_FIELDS))) return;
    const valid = p as z.output<typeof sharedBigipSchema> & { address: string };
    claimEndpoint(this, 'SharedBigip', valid.address, valid.port);
    this.name = valid.name ?? 'cdktf_ces';
    this.dnsResolver = valid.dnsResolver;
    this.connection = {
      address: valid.address,
      port: valid.port,
      credentials: valid.credentials as BigipConnectionProps['credentials'],
      tlsCaBundlePath: valid.tlsCaBundlePath,
      insecureSkipTlsVerify: valid.insecureSkipTlsVerify,
    };
    this.provider = bigipProvider(this, this.name, this.connection);
    const ownership = new ContextOwnership(
      this,
      this.provider,
      () => unlessInvalid(() => expectedDeviceState(this.name, this.compiled(), this.dnsResolver), undefined),
      this.dnsResolver,
    );
    this.declaration = new BigipAs3(this, 'Resource', {
      provider: this.provider,
      dependsOn: ownership.declarationDependencies,
      lifecycle: ownership.declarationLifecycle(),
      as3Json: Lazy.stringValue({ produce: () => unlessInvalid(() => JSON.stringify(renderSharedAs3(this.name, this.compiled())), '') }),
      // AS3 keeps the id and remark of the last request: without this every plan would show a
      // change (provider issues #869, #1148).
      ignoreMetadata: true,
    });
    ownership.attach(this.declaration);
    this.ownership = ownership;
    this.node.addValidation({ validate: () => this.problems() });
  }

  /**
   * The problem of a device that would use a tenant another attached device uses: two
   * declarations of one tenant replace each other on every deploy.
   * @internal
   */
  public _tenantIssue(path: string, tenant: string): PolicyIssue | undefined {
    const other = this.devices.find((d) => d.tenant === tenant);
    if (!other) return undefined;
    return {
      path,
      field: 'tenant',
      value: quote(tenant),
      message: `device ${other.node.path} on the same SharedBigip (${this.node.path}) already uses this tenant; each would replace the other's declaration: give each cluster its own tenant`,
    };
  }

  /**
   * The provider a device uses: this construct's own in its stack, otherwise one per stack,
   * created under the first device there.
   * @internal
   */
  public _providerFor(device: AfmDevice): BigipProvider {
    const stack = TerraformStack.of(device);
    if (stack === TerraformStack.of(this)) return this.provider;
    let provider = this.providers.get(stack);
    if (!provider) {
      provider = bigipProvider(device, this.name, this.connection);
      this.providers.set(stack, provider);
    }
    return provider;
  }

  /**
   * Attaches a device (called by AfmDevice after {@link _tenantIssue} found no problem).
   * @internal
   */
  public _attach(device: AfmDevice): void {
    this.devices.push(device);
    this.ownership.releaseRouteDomain(device._deviceModel.routeDomain);
    for (const m of namespaceRouteDomains(device._deviceModel)) this.ownership.releaseRouteDomain(m.routeDomain);
  }

  /**
   * Notes a device that names this SharedBigip but was refused.
   * @internal
   */
  public _attachRefused(): void {
    this.usedByRefusedDevice = true;
  }

  /** Tenants of the attached devices. */
  public get tenants(): string[] {
    return this.devices.map((d) => d.tenant).sort();
  }

  private compiled(): CompiledPolicy[] {
    return this.devices.map((d) => d._compile());
  }

  private problems(): string[] {
    const out: string[] = [];
    if (this.devices.length === 0 && !this.usedByRefusedDevice) {
      out.push(
        formatIssue({
          path: '',
          field: 'devices',
          value: 'none',
          message: 'no AfmDevice uses this SharedBigip: attach devices with their sharedBigip prop, or remove the SharedBigip',
        }),
      );
    }
    // Pod CIDRs of clusters in one route domain must not overlap.
    for (let i = 0; i < this.devices.length; i++) {
      for (let j = i + 1; j < this.devices.length; j++) {
        const a = this.devices[i]._deviceModel;
        const b = this.devices[j]._deviceModel;
        if (a.routeDomain !== b.routeDomain) continue;
        // Without podCidrs a device's egress virtual server takes every source, so two of
        // them in one route domain would be the same listener twice.
        for (const [d, m, other] of [
          [this.devices[i], a, this.devices[j]],
          [this.devices[j], b, this.devices[i]],
        ] as const) {
          if (m.podCidrs.length === 0) {
            out.push(
              formatIssue({
                path: d.node.path,
                field: 'podCidrs',
                value: 'nothing',
                message: `are not set, and this device shares route domain ${a.routeDomain} with ${other.node.path}, so their egress virtual servers would take the same sources: set each cluster's podCidrs, or put one cluster in another routeDomain`,
              }),
            );
          }
        }
        for (const ca of a.podCidrs) {
          for (const cb of b.podCidrs) {
            const x = parseAddressEntry(ca.text);
            const y = parseAddressEntry(cb.text);
            if (x.family === y.family && x.first <= y.last && y.first <= x.last) {
              out.push(
                formatIssue({
                  path: this.devices[j].node.path,
                  field: 'podCidrs',
                  value: quote(cb.text),
                  message: `overlaps pod CIDR ${ca.text} of ${this.devices[i].node.path} in route domain ${a.routeDomain}, so the firewall could not tell the clusters' pods apart; put one cluster in another routeDomain`,
                }),
              );
            }
          }
        }
      }
    }
    // Each device reports its own policy problems (FQDNs without a resolver among them); what
    // only the shared declaration can see (names of two tenants that meet in /Common/Shared,
    // the render self-check) is reported here, where the Lazy that renders it would swallow it.
    const compiled = unlessInvalid(() => this.compiled(), undefined);
    if (compiled && compiled.length > 0) {
      try {
        renderSharedAs3(this.name, compiled);
      } catch (e) {
        if (!(e instanceof EgressPolicyError)) throw e;
        out.push(...e.issues.map(formatIssue));
      }
    }
    return out;
  }
}
