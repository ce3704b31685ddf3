/**
 * One way to name an AfmDevice everywhere (`--device` of every command, the `device` option of
 * the Jest matchers, and what the tools print): its AS3 tenant, its cluster name,
 * `<stack>/<tenant>`, or its construct path all name it, and so does the printed form
 * `<stack>/<tenant> (<construct path>)`. A name several devices answer to is refused with the
 * candidates in that printed form.
 */
import { UsageError } from '../files/usage-error';
import { quote } from '../files/text';

/** The names of one device. */
export interface DeviceNames {
  /** The TerraformStack's id: its folder under `cdktf.out/stacks`. */
  readonly stack: string;
  readonly tenant: string;
  /** The AfmDevice's `clusterName`. */
  readonly cluster: string;
  /** The AfmDevice's construct path. */
  readonly path: string;
}

/** `all`: every device, where a command can act on each. */
export const ALL_DEVICES = 'all';

/** The short printed form, unique within a synth output: `<stack>/<tenant>`. */
export function deviceName(d: DeviceNames): string {
  return `${d.stack}/${d.tenant}`;
}

/** The printed form: `<stack>/<tenant> (<construct path>)`. */
export function deviceLabel(d: DeviceNames): string {
  return `${deviceName(d)} (${d.path})`;
}

/** Whether `name` names the device, in any of its forms. */
export function namesDevice(name: string, d: DeviceNames): boolean {
  return name === d.tenant || name === d.cluster || name === deviceName(d) || name === d.path || name === deviceLabel(d);
}

export interface DeviceSelection {
  /** How the name was given, for messages: `--device` or `options.device`. @default '--device' */
  readonly option?: string;
  /** Whether `all` selects every device. @default false */
  readonly allowAll?: boolean;
  /** What holds the devices, for messages. @default 'the synth output' */
  readonly within?: string;
  /** How a device is chosen, for messages. @default '<option> <device>' */
  readonly chooseWith?: string;
}

const FORMS = 'a tenant, a cluster name, <stack>/<tenant> or a construct path';

/**
 * The devices `name` selects: undefined selects the only device (or, with `allowAll`, every
 * device), `all` every device where allowed, any other name exactly one device.
 */
export function selectDevices<T>(
  devices: readonly T[],
  name: string | undefined,
  namesOf: (d: T) => DeviceNames,
  selection: DeviceSelection = {},
): T[] {
  const option = selection.option ?? '--device';
  const within = selection.within ?? 'the synth output';
  const listed = (ds: readonly T[]) => ds.map((d) => deviceLabel(namesOf(d))).join(', ') || 'none';
  if (devices.length === 0) throw new UsageError(`${within} has no AfmDevice`, 'no device', 'synthesize an app that declares an AfmDevice');
  if (name === undefined || name === ALL_DEVICES) {
    if (selection.allowAll || devices.length === 1) return [...devices];
    if (name === ALL_DEVICES)
      throw new UsageError(`${option} all: this acts on one device`, quote(name), `name one of: ${listed(devices)}`);
    throw new UsageError(
      `${within} has several devices`,
      listed(devices),
      `choose one with ${selection.chooseWith ?? `${option} <device>`} (${FORMS})${selection.allowAll ? ' or all' : ''}`,
    );
  }
  const matches = devices.filter((d) => namesDevice(name, namesOf(d)));
  if (matches.length === 1) return matches;
  if (matches.length === 0) {
    throw new UsageError(
      `${option} names no device of ${within}`,
      quote(name),
      `use ${selection.allowAll ? 'all or ' : ''}one of: ${listed(devices)} (${FORMS})`,
    );
  }
  throw new UsageError(
    `${option} names several devices`,
    quote(name),
    `name one by <stack>/<tenant> or construct path: ${listed(matches)}`,
  );
}

/** The one device `name` selects (see {@link selectDevices}). */
export function selectDevice<T>(
  devices: readonly T[],
  name: string | undefined,
  namesOf: (d: T) => DeviceNames,
  selection: Omit<DeviceSelection, 'allowAll'> = {},
): T {
  return selectDevices(devices, name, namesOf, { ...selection, allowAll: false })[0];
}
