import { Construct } from 'constructs';
import { Lazy } from 'cdktf';
import { BigipAs3 } from '../../providers/bigip/as3';
import { BigipCommand } from '../../providers/bigip/command';
import type { BigipProvider } from '../../providers/bigip/provider';
import { contextCommands, renderSharedAs3 } from '../afm/as3';
import { EgressPolicyError, PolicyIssue, quote, unlessInvalid } from '../policy/errors';
import { parseAddressEntry } from '../policy/ip';
import { tenantProblem } from '../policy/names';
import type { CompiledPolicy } from '../policy/compile';
import type { AfmDevice } from './afm-device';
import { BigipConnectionProps, bigipProvider, connectionIssues } from './connection';

const SHARED_SYMBOL = Symbol.for('cdktf-ces.SharedBigip');
const BIGIP_PATH = /^\/[A-Za-z][0-9A-Za-z_.-]*(\/[A-Za-z0-9][0-9A-Za-z_.-]*)+$/;

/** Props of {@link SharedBigip}. */
export interface SharedBigipProps extends BigipConnectionProps {
  /**
   * Prefix of the shared context objects in `/Common/Shared` (the global and route-domain
   * policies). Letters, digits and "_"; unique per BIG-IP.
   * @default "cdktf_ces"
   */
  readonly name?: string;
  /**
   * BIG-IP path of the `net dns-resolver` for FQDN destinations of any attached cluster.
   * @default - none (FQDN destinations fail synth)
   */
  readonly dnsResolver?: string;
}

/**
 * A BIG-IP shared by several clusters. Each cluster's AfmDevice keeps its own AS3 tenant; the
 * objects every context policy must reference live in `/Common/Shared`, which one AS3
 * declaration owns as a whole (a second declaration of `Common` would replace the first).
 * So this construct owns that declaration: every attached device's lists and rule lists, the
 * one global policy and one policy per route domain in use, and the tmsh commands that
 * attach them. Devices depend on it, so it is deployed first.
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
  public readonly name: string;
  /** The connection, reused by devices in other stacks for their own provider. */
  public readonly connection: BigipConnectionProps;
  public readonly provider: BigipProvider;
  /** The AS3 declaration of `/Common/Shared`. */
  public readonly declaration: BigipAs3;
  /** The FQDN resolver of the BIG-IP, if set. */
  public readonly dnsResolver?: string;
  private readonly devices: AfmDevice[] = [];

  constructor(scope: Construct, id: string, props: SharedBigipProps) {
    super(scope, id);
    Object.defineProperty(this, SHARED_SYMBOL, { value: true });
    const at = this.node.path;
    this.name = props.name ?? 'cdktf_ces';
    const issues: PolicyIssue[] = connectionIssues(props, at);
    const nameProblem = tenantProblem(this.name);
    if (nameProblem) issues.push({ path: at, field: 'name', value: quote(this.name), message: nameProblem });
    if (props.dnsResolver !== undefined && !BIGIP_PATH.test(props.dnsResolver)) {
      issues.push({ path: at, field: 'dnsResolver', value: quote(props.dnsResolver), message: 'must be the BIG-IP path of a DNS resolver, such as "/Common/egress-resolver"' });
    }
    if (issues.length) throw new EgressPolicyError(issues);
    this.dnsResolver = props.dnsResolver;
    this.connection = {
      address: props.address,
      port: props.port,
      credentials: props.credentials,
      tlsCaBundlePath: props.tlsCaBundlePath,
      insecureSkipTlsVerify: props.insecureSkipTlsVerify,
    };
    this.provider = bigipProvider(this, this.name, this.connection);
    this.declaration = new BigipAs3(this, 'Resource', {
      provider: this.provider,
      as3Json: Lazy.stringValue({ produce: () => unlessInvalid(() => JSON.stringify(renderSharedAs3(this.name, this.compiled())), '') }),
    });
    const commands = (kind: 'apply' | 'destroy') => Lazy.listValue({ produce: () => unlessInvalid(() => contextCommands(this.name, this.compiled(), this.dnsResolver)[kind], []) });
    new BigipCommand(this, 'Contexts', { provider: this.provider, dependsOn: [this.declaration], commands: commands('apply') });
    new BigipCommand(this, 'ContextsRelease', { provider: this.provider, dependsOn: [this.declaration], when: 'destroy', commands: commands('destroy') });
    this.node.addValidation({ validate: () => this.problems() });
  }

  /**
   * Attaches a device (called by AfmDevice).
   * @internal
   */
  public _attach(device: AfmDevice): void {
    this.devices.push(device);
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
    const tenants = new Map<string, AfmDevice>();
    for (const d of this.devices) {
      const other = tenants.get(d.tenant);
      if (other) out.push(`devices ${other.node.path} and ${d.node.path} both use tenant "${d.tenant}"; give each cluster its own tenant`);
      tenants.set(d.tenant, d);
    }
    if (this.devices.length === 0) out.push('no AfmDevice uses this SharedBigip; attach devices with their sharedBigip prop or remove it');
    // Pod CIDRs of clusters in one route domain must not overlap.
    for (let i = 0; i < this.devices.length; i++) {
      for (let j = i + 1; j < this.devices.length; j++) {
        const a = this.devices[i]._deviceModel;
        const b = this.devices[j]._deviceModel;
        if (a.routeDomain !== b.routeDomain) continue;
        // Without podCidrs a device's egress virtual server takes every source, so two of
        // them in one route domain would be the same listener twice.
        for (const [d, m] of [[this.devices[i], a], [this.devices[j], b]] as const) {
          if (m.podCidrs.length === 0) {
            out.push(`${d.node.path} shares route domain ${a.routeDomain} with another cluster but sets no podCidrs; set each cluster's podCidrs so their egress virtual servers do not collide, or use separate route domains`);
          }
        }
        for (const ca of a.podCidrs) {
          for (const cb of b.podCidrs) {
            const x = parseAddressEntry(ca.text);
            const y = parseAddressEntry(cb.text);
            if (x.family === y.family && x.first <= y.last && y.first <= x.last) {
              out.push(
                `pod CIDRs ${ca.text} (${this.devices[i].node.path}) and ${cb.text} (${this.devices[j].node.path}) overlap in route domain ${a.routeDomain}; the firewall could not tell the clusters' pods apart: put one cluster in another routeDomain`,
              );
            }
          }
        }
      }
    }
    // Each device reports its own policy problems (FQDNs without a resolver among them).
    return out;
  }
}
