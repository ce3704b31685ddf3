// Public entry point: constructs, value objects, enums and props. The runtime controller,
// the CLI and the pure compiler internals are deliberately not exported from here.
export * from './policy/enums';
export { EgressDestination, IExternalService } from './policy/destination';
export { EgressPort, EgressPortProps, EgressProtocol } from './policy/port';
export { EgressSnat } from './policy/device';
export { EgressPolicyError, EgressSynthError, PolicyIssue } from './policy/errors';
export * from './constructs/crd-stack';
export * from './constructs/credentials';
export * from './constructs/afm-device';
export { ClusterEgressRule, ClusterEgressRuleProps, EgressRuleProps, NamespaceEgressRule, NamespaceEgressRuleProps, ServiceEgressRule, ServiceEgressRuleProps } from './constructs/rules';
export * from './constructs/external-service';
export * from './constructs/guardrails';
export * from './constructs/shared-bigip';
export { BigipConnectionProps } from './constructs/connection';
export * from './constructs/egress-controller';
