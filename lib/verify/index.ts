/**
 * `cdktf-ces verify`: whether a BIG-IP holds what a synth output deploys. Terraform's bigip
 * provider reads only some of AS3's task results, and the device changes after the deploy (by
 * hand, at a reboot), so a green `terraform apply` proves nothing on its own; these checks read
 * the device back.
 */
export * from './checks';
export * from './evaluate';
export * from './expected';
export * from './reader';
export * from './report';
export * from './targets';
export * from './verify';
