/**
 * The fields of AFM network-firewall log messages: what a device's log profile may list (AS3
 * `Security_Log_Profile` network `storageFormat.fieldList`) and the list rendered by default.
 * Shared by the renderer and the flow-log parser, which must read the fields in the same order.
 */
export const LOG_FIELDS = [
  'acl-policy-name',
  'acl-policy-type',
  'acl-rule-name',
  'action',
  'bigip-hostname',
  'context-name',
  'context-type',
  'date-time',
  'dest-ip',
  'dest-port',
  'drop-reason',
  'management-ip-address',
  'protocol',
  'route-domain',
  'sa-translation-pool',
  'sa-translation-type',
  'src-ip',
  'src-port',
  'translated-dest-ip',
  'translated-dest-port',
  'translated-ip-protocol',
  'translated-route-domain',
  'translated-src-ip',
  'translated-src-port',
  'translated-vlan',
  'vlan',
] as const;

export const DEFAULT_LOG_FIELDS = [
  'date-time',
  'action',
  'context-type',
  'context-name',
  'acl-policy-name',
  'acl-rule-name',
  'src-ip',
  'src-port',
  'dest-ip',
  'dest-port',
  'protocol',
  'route-domain',
];
