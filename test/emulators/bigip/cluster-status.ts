/**
 * The answers of a device's cm (device service clustering) endpoints, in iControl REST's shapes:
 *
 * - `GET /mgmt/tm/cm/failover-status` and `GET /mgmt/tm/cm/sync-status` are `stats` answers,
 *   `entries["https://localhost/mgmt/tm/cm/<x>/0"].nestedStats.entries.<field>.description`
 *   (AS3's integration tests read `status.description` of failover-status until it is `ACTIVE`:
 *   f5-appsvcs-extension `test/integration/bigip/property/propertiesCommon.js`, `checkServices()`;
 *   the answer's `kind` is `tm:cm:failover-status:failover-statusstats`; F5's
 *   Python SDK cluster manager reads `status.description` of sync-status and waits for
 *   `In Sync`; a standalone device shows `Standalone`).
 * - `GET /mgmt/tm/cm/device-group` is a collection, `items[]` with the attributes of
 *   terraform-provider-bigip's `bigip_cm_devicegroup` (`bigip/resource_bigip_cm_devicegroup.go:29-105`:
 *   `type` sync-failover/sync-only, `autoSync` enabled/disabled, `saveOnAutoSync`,
 *   `fullLoadOnSync`, `networkFailover`). Every device also has the built-in sync-only
 *   `device_trust_group`, listed here so that a reader must pick the group by name.
 */

export interface ClusterEndpoints {
  answer(template: '/mgmt/tm/cm/failover-status' | '/mgmt/tm/cm/sync-status' | '/mgmt/tm/cm/device-group'): unknown;
}

/** A `stats` answer with one record. */
export function statsAnswer(path: string, fields: Readonly<Record<string, string>>): unknown {
  return {
    kind: `tm:cm:${path.split('/').pop()}:${path.split('/').pop()}stats`,
    selfLink: `https://localhost${path}?ver=17.1.0`,
    entries: {
      [`https://localhost${path}/0`]: {
        nestedStats: { entries: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { description: v }])) },
      },
    },
  };
}

export interface DeviceGroupItem {
  readonly name: string;
  readonly type: 'sync-failover' | 'sync-only';
  readonly autoSync: boolean;
  readonly saveOnAutoSync: boolean;
}

export function deviceGroupAnswer(groups: readonly DeviceGroupItem[]): unknown {
  const all: DeviceGroupItem[] = [{ name: 'device_trust_group', type: 'sync-only', autoSync: true, saveOnAutoSync: false }, ...groups];
  return {
    kind: 'tm:cm:device-group:device-groupcollectionstate',
    items: all.map((g) => ({
      kind: 'tm:cm:device-group:device-groupstate',
      name: g.name,
      partition: 'Common',
      fullPath: `/Common/${g.name}`,
      type: g.type,
      autoSync: g.autoSync ? 'enabled' : 'disabled',
      saveOnAutoSync: g.saveOnAutoSync ? 'true' : 'false',
      fullLoadOnSync: 'false',
      networkFailover: 'enabled',
    })),
  };
}

/** A device in no device group: always active, sync status `Standalone`. */
export const STANDALONE: ClusterEndpoints = {
  answer(template) {
    if (template === '/mgmt/tm/cm/failover-status')
      return statsAnswer(template, { color: 'green', status: 'ACTIVE', summary: '1/1 active' });
    if (template === '/mgmt/tm/cm/sync-status')
      return statsAnswer(template, { color: 'green', mode: 'standalone', status: 'Standalone', summary: ' ' });
    return deviceGroupAnswer([]);
  },
};
