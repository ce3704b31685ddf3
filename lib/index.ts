// Public entry point: constructs, value objects, enums and props, each exported by name so the
// public API is what we decide. The runtime controller, the CLI and the pure compiler internals
// are deliberately not exported from here.
export {
  BandwidthUnit,
  DefaultAction,
  EgressAction,
  EgressBandwidthLimit,
  EgressLoggingOptions,
  EgressSchedule,
  LabelSelector,
  LabelSelectorOperator,
  LabelSelectorRequirement,
  SyslogTransport,
  Weekday,
} from './policy/enums';
export { EgressDestination, IExternalService } from './policy/destination';
export { EgressPort, EgressPortProps, EgressProtocol } from './policy/port';
export { EgressIRule } from './policy/irule';
export { EgressSnat } from './policy/device';
export { NamespaceRouteDomain } from './policy/route-domains';
export { EgressRedirect } from './policy/redirect';
export { EgressPolicyError, EgressSynthError, PolicyIssue } from './policy/errors';
export { EgressCrdStack, EgressCrdStackProps } from './constructs/crd-stack';
export { BigipCredentials, BigipCredentialVariableNames } from './constructs/credentials';
export { AfmDevice, AfmDeviceProps } from './constructs/afm-device';
export {
  ClusterEgressRule,
  ClusterEgressRuleProps,
  EgressRuleProps,
  NamespaceEgressRule,
  NamespaceEgressRuleProps,
  ServiceEgressRule,
  ServiceEgressRuleProps,
} from './constructs/rules';
export { ExternalService, ExternalServiceProps } from './constructs/external-service';
export { EgressGuardrails, EgressGuardrailsProps, ExpiredRuleMode, GuardrailMode } from './constructs/guardrails';
export { SharedBigip, SharedBigipProps } from './constructs/shared-bigip';
export { BigipConnectionProps } from './constructs/connection';
export { BigipHaOptions, ConfigSyncMode } from './constructs/ha';
export {
  DEFAULT_NODE_IMAGE,
  EgressController,
  EgressControllerProps,
  FlowLogReceiverOptions,
  FlowLogServiceType,
} from './constructs/egress-controller';
