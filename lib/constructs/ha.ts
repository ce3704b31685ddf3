/**
 * An AfmDevice that is a BIG-IP pair: the units of one sync-failover device group.
 *
 * What a deploy does (and why):
 * - The declaration goes to the device's own address, the config leader, without AS3's
 *   `syncToGroup`: AS3 launches that sync without waiting for it (f5-appsvcs-extension
 *   `src/lib/declarationHandler.js:1282-1317`), leaves the group "Changes Pending" (issue #898),
 *   and F5's provider would show a change on every plan (its read of `bigip_as3` drops the
 *   property, go-bigip `as3bigip.go:292-315`). The group's auto-sync carries the configuration.
 * - Then the same declaration to every other unit, through a provider of its own: AS3 keeps
 *   the service-discovery task of each event-driven list in the REST store of the unit it was
 *   posted to, which config sync does not carry (issues #238, #385). Without the task the unit
 *   cannot take list pushes once it is active. mcpd already holds the configuration (or gets it
 *   from the sync), so the peer's AS3 finds little or nothing to change besides its tasks.
 * - The tmsh context attachments run on the leader only; the sync carries them.
 * - `ConfigSyncMode.EXPLICIT` (a group without auto-sync, opted into): after the declaration and
 *   the attachments, `run cm config-sync to-group <group>` on the leader (tmsh's manual sync),
 *   again whenever either changes. The controller's list pushes then reach the standby only at
 *   the next sync; a failover resyncs the new active unit (see lib/controller/ha.ts).
 *
 * `verify` checks the group (type, auto-sync), its sync status and that exactly one unit is
 * active, and reads the lists on the active unit and the tasks on the others.
 */
import { Construct } from 'constructs';
import { z } from 'zod';
import type { BigipAs3 } from '../../providers/bigip/as3';
import { BigipCommand } from '../../providers/bigip/command';
import type { BigipProvider } from '../../providers/bigip/provider';
import { wholeNumber } from '../policy/device';
import { PolicyIssue, quote } from '../policy/errors';
import { struct } from '../policy/schema';
import { BigipConnectionProps, check, endpointClaimIssue, hostProblem, peerProvider } from './connection';

/** How the units of a BIG-IP pair get each other's configuration. */
export enum ConfigSyncMode {
  /** The device group syncs every change itself (auto-sync enabled on the group): the default, and what `verify` requires. */
  AUTO = 'auto',
  /**
   * The device group has auto-sync off: each deploy ends with `run cm config-sync to-group`
   * on the leader. The controller's list pushes reach the standby unit only at the next sync.
   */
  EXPLICIT = 'explicit',
}

/** The other units of an AfmDevice that is a BIG-IP pair (or a larger sync-failover device group). */
export interface BigipHaOptions {
  /**
   * The sync-failover device group of the units: `/Common/<name>` or `<name>`.
   */
  readonly deviceGroup: string;
  /**
   * Management addresses of the other units (host names or IP addresses, like the device's
   * `address`, which is the config leader): one for a pair, at most seven. They use the
   * device's credentials and CA bundle.
   */
  readonly peerAddresses: string[];
  /**
   * Management port of the other units.
   * @default - the device's port
   */
  readonly peerPort?: number;
  /**
   * How the configuration reaches the other units.
   * @default ConfigSyncMode.AUTO
   */
  readonly configSync?: ConfigSyncMode;
}

/** The device group, how it syncs and every unit's management URL (leader first), in the policy artifact for `verify`. */
export interface HaArtifact {
  readonly deviceGroup: string;
  readonly configSync: 'auto' | 'explicit';
  readonly units: readonly string[];
}

const DEVICE_GROUP = /^(\/Common\/)?([A-Za-z][A-Za-z0-9_.-]{0,63})$/;
/** A sync-failover device group holds at most eight devices (the leader and seven peers). */
const MAX_PEERS = 7;

const haObject = z.strictObject(
  {
    deviceGroup: z
      .string({ error: 'is required: the sync-failover device group of the units, such as "/Common/failover-group"' })
      .regex(DEVICE_GROUP, {
        error: 'must be a device group name such as "failover-group" or "/Common/failover-group" (device groups live in /Common)',
      }),
    peerAddresses: z
      .array(z.string({ error: 'expected a host name or IP address' }).superRefine(check(hostProblem)), {
        error: 'is required: the management addresses of the other units, such as ["bigip-b.example.net"]',
      })
      .min(1, { error: 'list the management address of at least one other unit' })
      .max(MAX_PEERS, { error: `a device group holds at most ${MAX_PEERS + 1} devices: list at most ${MAX_PEERS} other units` }),
    peerPort: wholeNumber(1, 65535).optional(),
    configSync: z.enum(['auto', 'explicit'], { error: 'must be ConfigSyncMode.AUTO or ConfigSyncMode.EXPLICIT' }).optional(),
  },
  { error: 'expected BigipHaOptions ({ deviceGroup, peerAddresses, peerPort, configSync })' },
);

/** The `highAvailability` prop of AfmDevice, read as a struct. */
export const HA_PROP = struct(haObject, {
  what: 'BigipHaOptions',
  expected: 'BigipHaOptions ({ deviceGroup, peerAddresses, peerPort, configSync })',
}).optional();

export type ValidHaOptions = z.output<typeof haObject>;

function canonicalHost(address: string): string {
  return address.toLowerCase();
}

/** Problems of `highAvailability` that involve other props: the SharedBigip, the device's own address, repeats, other owners. */
export function haIssues(claimant: Construct, raw: Readonly<Record<string, unknown>>, ha: ValidHaOptions | undefined): PolicyIssue[] {
  if (raw.highAvailability === undefined) return [];
  const path = claimant.node.path;
  const issues: PolicyIssue[] = [];
  if (raw.sharedBigip !== undefined) {
    issues.push({
      path,
      field: 'highAvailability',
      value: '(BigipHaOptions)',
      message:
        'a device on a SharedBigip cannot be a pair of its own; the BIG-IP pair behind a SharedBigip is not supported: give the device its own connection (address, ...) and highAvailability',
    });
    return issues;
  }
  if (!ha) return issues;
  const seen = new Set<string>();
  const own = typeof raw.address === 'string' ? canonicalHost(raw.address) : undefined;
  const port = ha.peerPort ?? (typeof raw.port === 'number' ? raw.port : undefined);
  ha.peerAddresses.forEach((peer, i) => {
    const field = `highAvailability.peerAddresses[${i}]`;
    const key = canonicalHost(peer);
    if (key === own && (port ?? 443) === ((typeof raw.port === 'number' ? raw.port : undefined) ?? 443))
      issues.push({
        path,
        field,
        value: quote(peer),
        message: "is the device's own address (the config leader); list the other units only",
      });
    else if (seen.has(key)) issues.push({ path, field, value: quote(peer), message: 'is listed twice; list each other unit once' });
    else {
      const claim = endpointClaimIssue(claimant, peer, port);
      if (claim) issues.push({ ...claim, field });
    }
    seen.add(key);
  });
  return issues;
}

/** The device group's tmsh path. */
export function deviceGroupPath(ha: ValidHaOptions): string {
  return `/Common/${(DEVICE_GROUP.exec(ha.deviceGroup) as RegExpExecArray)[2]}`;
}

/** Management URLs of the other units, as the controller and `verify` reach them. */
export function peerUrls(ha: ValidHaOptions, connection: BigipConnectionProps): string[] {
  const port = ha.peerPort ?? connection.port;
  return ha.peerAddresses.map((a) => `https://${a}${port !== undefined ? `:${port}` : ''}`);
}

/**
 * Creates what a pair adds to the device's deploy (see the module comment): in explicit mode the
 * leader's config-sync command, and per other unit a provider and the same declaration, after
 * everything on the leader.
 */
export function addHaUnits(
  device: Construct,
  tenant: string,
  ha: ValidHaOptions,
  leader: BigipProvider,
  connection: BigipConnectionProps,
  declaration: BigipAs3,
  newDeclaration: (scope: Construct, provider: BigipProvider, dependsOn: readonly (BigipAs3 | BigipCommand)[]) => BigipAs3,
): void {
  const contexts = device.node.tryFindChild('Contexts') as BigipCommand | undefined;
  const onLeader: (BigipAs3 | BigipCommand)[] = [declaration, ...(contexts ? [contexts] : [])];
  if (ha.configSync === 'explicit') {
    onLeader.push(
      new BigipCommand(device, 'HaConfigSync', {
        provider: leader,
        dependsOn: [...onLeader],
        commands: [`run cm config-sync to-group ${deviceGroupPath(ha)}`],
        // A command runs on create only: it runs again whenever what it syncs changed.
        lifecycle: { replaceTriggeredBy: [...onLeader] },
      }),
    );
  }
  ha.peerAddresses.forEach((address, i) => {
    const unit = new Construct(device, `HaUnit${i + 1}`);
    const provider = peerProvider(unit, `${tenant}_unit${i + 1}`, leader, { ...connection, address, port: ha.peerPort ?? connection.port });
    newDeclaration(unit, provider, onLeader);
  });
}

/** What `verify` needs of the pair. */
export function haArtifact(ha: ValidHaOptions, connection: BigipConnectionProps, managementUrl: string): HaArtifact {
  return { deviceGroup: deviceGroupPath(ha), configSync: ha.configSync ?? 'auto', units: [managementUrl, ...peerUrls(ha, connection)] };
}
