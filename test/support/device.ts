import { buildDevice } from '../../lib/policy/device';
import type { DeviceModel } from '../../lib/policy/model';

/** A device model with the library's defaults, as AfmDevice builds it. */
export function testDevice(overrides: Partial<DeviceModel> = {}): DeviceModel {
  return {
    ...buildDevice({ path: 'app/stack/Bigip', clusterName: 'prod', dnsResolver: '/Common/egress-resolver' }),
    ...overrides,
  };
}
