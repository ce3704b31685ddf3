// The `cdktf-ces/testing` entry point: what users test their own policies with. Jest matchers
// that decide flows the way the device would, the AS3 declaration validator and the Pod
// Security "restricted" checker. The BIG-IP and Kubernetes API emulators are this package's
// own test support and are not part of it.
export {
  type EgressExpectationOptions,
  egressMatchers,
  explainEgress,
  setupEgressMatchers,
  toAllowEgress,
  toBeDecidedBy,
  toDenyEgress,
  toRedirectEgress,
  toRejectEgress,
} from './matchers';
export { type As3ValidationResult, As3Validator } from './as3-validator';
export { restrictedProfileViolations } from './pod-security';
