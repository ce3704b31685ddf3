import { Construct } from 'constructs';
import { TerraformResource, TerraformStack } from 'cdktf';
import { externalServiceResource } from '../k8s/resources';
import { EgressDestination, IExternalService } from '../policy/destination';
import { EgressPolicyError, PolicyIssue, formatIssue, quote } from '../policy/errors';
import type { ExternalServiceModel } from '../policy/model';
import { externalServiceFromProps, readExternalServiceProps } from '../policy/schema';
import { describe, prototypePollutionIssues } from '../policy/struct';
import { AfmDevice } from './afm-device';
import { collectProblems, isRefused, markUnbuilt } from './problems';
import { checkedConstructId } from './construct-id';
import { KubernetesManifest } from './kubernetes-manifest';

const EXTERNAL_SERVICE_SYMBOL = Symbol.for('cdktf-ces.ExternalService');

/** Props of {@link ExternalService}. */
export interface ExternalServiceProps {
  /** The device whose rules may use the set; must be in the same stack. */
  readonly device: AfmDevice;
  /**
   * Name of the set: a DNS label, unique per device.
   * @default - the construct id in kebab case
   */
  readonly name?: string;
  /** Addresses, CIDRs, ranges and DNS names of the service; at least one. */
  readonly destinations: EgressDestination[];
  /**
   * Short description (at most 64 characters).
   * @default - none
   */
  readonly description?: string;
}

/**
 * A named, reusable set of destinations (a bank's SFTP endpoints, a SaaS API), rendered as
 * one AFM address list that rules reference with `EgressDestination.externalService()`.
 */
export class ExternalService extends Construct implements IExternalService {
  /** Whether `x` is an ExternalService (works across copies of this library). */
  public static isExternalService(x: unknown): x is ExternalService {
    return typeof x === 'object' && x !== null && EXTERNAL_SERVICE_SYMBOL in x;
  }

  public readonly serviceName!: string;
  /** The device the set belongs to. */
  public readonly device!: AfmDevice;
  /** The ExternalService custom resource: a `kubernetes_manifest` (its attributes through `getAnyMapAttribute`). */
  public readonly resource!: TerraformResource;

  constructor(scope: Construct, id: string, props: ExternalServiceProps) {
    super(scope, checkedConstructId(scope, id, 'an ExternalService'));
    Object.defineProperty(this, EXTERNAL_SERVICE_SYMBOL, { value: true });
    const device = (props as { device?: unknown } | undefined)?.device;
    // A refused service is reported at synth with every other problem of the app; it is not on
    // the device and renders nothing (rules that refer to it are not built either).
    if (AfmDevice.isAfmDevice(device)) this.device = device;
    collectProblems(this, () => this.define(id, props));
  }

  private define(id: string, props: ExternalServiceProps): void {
    const path = this.node.path;
    // At construction and again at synth: the pollution may come after the service.
    const polluted = prototypePollutionIssues(path);
    if (polluted.length) throw new EgressPolicyError(polluted);
    this.node.addValidation({ validate: () => prototypePollutionIssues('').map(formatIssue) });
    // Read, never spread: a spread drops what must be refused (symbol keys, an own __proto__).
    const device = readExternalServiceProps(path, props).device;
    const deviceIssues: PolicyIssue[] = [];
    if (!AfmDevice.isAfmDevice(device)) {
      deviceIssues.push({
        path,
        field: 'device',
        value: describe(device),
        message: 'must be an AfmDevice (created with new AfmDevice(...))',
      });
    } else if (device.node.root !== this.node.root || TerraformStack.of(device) !== TerraformStack.of(this)) {
      deviceIssues.push({
        path,
        field: 'device',
        value: quote(device.node.path),
        message: "is in another stack or app; create the ExternalService in the device's stack",
      });
    }
    let model: ExternalServiceModel;
    try {
      model = externalServiceFromProps(path, props, id);
    } catch (e) {
      if (e instanceof EgressPolicyError && deviceIssues.length) throw new EgressPolicyError([...deviceIssues, ...e.issues]);
      throw e;
    }
    if (deviceIssues.length) throw new EgressPolicyError(deviceIssues);
    const afmDevice = device as AfmDevice;
    if (isRefused(afmDevice)) {
      markUnbuilt(this, afmDevice);
      return;
    }
    afmDevice._addExternalService(model);
    (this as { serviceName: string }).serviceName = model.name;
    (this as { device: AfmDevice }).device = afmDevice;
    (this as { resource: TerraformResource }).resource = new KubernetesManifest(this, 'Resource', {
      manifest: externalServiceResource(model, afmDevice.clusterName),
    });
  }
}
