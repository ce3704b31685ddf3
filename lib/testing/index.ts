// The `cdktf-ces/testing` entry point: emulators, validators and Jest matchers for testing
// egress policies without a cluster or a BIG-IP.
export * from './bigip-emulator';
export * from './kube-emulator';
export * from './as3-validator';
export * from './pod-security';
export * from './matchers';
