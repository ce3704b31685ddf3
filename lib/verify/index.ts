/**
 * `cdktf-ces verify`: whether a BIG-IP holds what a synth output deploys. Terraform's bigip
 * provider reads only some of AS3's task results, and the device changes after the deploy (by
 * hand, at a reboot), so a green `terraform apply` proves nothing on its own; these checks read
 * the device back.
 */
export {
  canonicalJson,
  checkAs3Tasks,
  checkAttachments,
  checkDeclaration,
  checkFqdnResolver,
  checkLists,
  checkRouteDomains,
  checkSaved,
  declarationDigest,
  type DeviceContextExpectation,
  firstDifference,
  type ObservedDevice,
  type VerifyCheck,
  type VerifyCluster,
  type VerifyProblem,
  type VerifySeverity,
} from './checks';
export { observedFirewall, type ObservedFirewall } from './evaluate';
export { adcOf, deviceContextOf, expectedDevice, type ExpectedDevice, savedAfterChanges } from './expected';
export {
  type As3TaskRecord,
  type As3TaskResult,
  bigipDeviceReader,
  type ContextAttachment,
  DeviceAnswerError,
  type DeviceReader,
  parseRouteDomainListing,
  type RouteDomainState,
  tmshErrorOf,
} from './reader';
export { formatVerifyJson, formatVerifyText, problemLine, VERIFY_NOTES } from './report';
export { expectedDevices, managementUrlOf } from './targets';
export { checkHaPair, type HaExpectation, haExpectationOf, type UnitObservation, verifyHaDevice } from './ha';
export { type DeviceVerification, distinctProblems, observeDevice, verifyDevice, type VerifyOptions } from './verify';
