/**
 * The devices of a synth output with what `verify` needs of each: the expected state and the
 * management URL its `bigip` provider configuration names.
 */
import * as path from 'node:path';
import { readJsonFile } from '../files/input-files';
import { UsageError } from '../files/usage-error';
import { selectDevices } from '../analysis/device-name';
import { DeviceOutput, namesOfOutput, readSynthOutput } from '../analysis/synth-output';
import { quote } from '../files/text';
import { ExpectedDevice, deviceContextOf, expectedDevice } from './expected';
import { haExpectationOf } from './ha';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const RESYNTH = 'run "cdktf synth" again';

/**
 * `https://<address>[:<port>]` of the `bigip` provider that the device's `bigip_as3` resource
 * uses (`provider: "bigip.<alias>"`), as AfmDevice's `managementUrl` is built.
 */
export function managementUrlOf(device: DeviceOutput, cwd: string): string {
  const tf = readJsonFile(device.terraformFile, cwd, RESYNTH);
  const bad = (what: string, value: unknown) =>
    new UsageError(
      `${device.terraformFile}: ${what} of device ${device.artifact.devicePath}`,
      quote(value),
      `the output is damaged or incomplete; ${RESYNTH}`,
    );
  const resources = isObj(tf) && isObj(tf.resource) && isObj(tf.resource.bigip_as3) ? Object.values(tf.resource.bigip_as3) : [];
  const own = resources.filter(
    (r) => isObj(r) && isObj(r['//']) && isObj(r['//'].metadata) && r['//'].metadata.path === `${device.artifact.devicePath}/Resource`,
  );
  const providerRef = own.length === 1 && isObj(own[0]) ? own[0].provider : undefined;
  if (typeof providerRef !== 'string' || !providerRef.startsWith('bigip.'))
    throw bad('no "provider" on the bigip_as3 resource', providerRef);
  const alias = providerRef.slice('bigip.'.length);
  const providers = isObj(tf) && isObj(tf.provider) && Array.isArray(tf.provider.bigip) ? tf.provider.bigip : [];
  const provider = providers.find((p: unknown) => isObj(p) && p.alias === alias);
  if (!isObj(provider) || typeof provider.address !== 'string' || provider.address === '')
    throw bad(`no address in provider bigip.${alias}`, provider);
  // The provider's `port` is a string attribute; cdktf may also write a number.
  const port = provider.port === undefined ? undefined : String(provider.port);
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
    throw bad(`port of provider bigip.${alias}`, provider.port);
  const url = `https://${provider.address}${port !== undefined ? `:${port}` : ''}`;
  try {
    new URL(url);
  } catch {
    throw bad(`address of provider bigip.${alias} is not a host`, provider.address);
  }
  return url;
}

/**
 * The devices of the synth output under `outDir` that `device` names (every one when it is
 * undefined or `all`), with their expected state.
 */
export function expectedDevices(outDir: string, cwd: string, device?: string): ExpectedDevice[] {
  const devices = readSynthOutput(outDir, cwd);
  return selectDevices(devices, device, namesOfOutput, { allowAll: true }).map((d) => {
    const shared = d.artifact.sharedContext;
    const owners = shared
      ? [
          shared.name,
          ...devices
            .filter((o) => o.artifact.sharedContext?.stack === shared.stack && o.artifact.sharedContext?.name === shared.name)
            .map((o) => o.tenant),
        ]
      : [d.tenant];
    const commandsFile = d.shared ? path.join(path.dirname(path.dirname(d.terraformFile)), d.shared.stack, 'cdk.tf.json') : d.terraformFile;
    const expected = expectedDevice(d, managementUrlOf(d, cwd), owners, commandsFile, deviceContextOf(d, devices));
    // A BIG-IP pair: verify reads every unit (ha.ts).
    const ha = haExpectationOf(d.artifact.ha, d.terraformFile);
    return ha ? { ...expected, ha } : expected;
  });
}
