/**
 * Rule iRules (`onMatch`): code AFM runs when a rule matches a flow (FLOW_INIT). One rule logs
 * every flow it allows, with the source pod's address; another both limits its bandwidth and
 * marks its flows for lower-effort queueing upstream (code from a file beside this one).
 */
import * as path from 'node:path';
import { Construct } from 'constructs';
import { AfmDevice, EgressAction, EgressDestination, EgressIRule, EgressPort, NamespaceEgressRule } from '../../lib';

/** Code given inline: one `when FLOW_INIT { … }`. Tcl's `${…}` is fine (it never reaches Terraform as text). */
const LOG_PARTNER_FLOWS = [
  'when FLOW_INIT {',
  '    set pod [IP::client_addr]',
  '    log local0.info "partner-api flow from ${pod} to [IP::local_addr]"',
  '}',
].join('\n');

export function addIRule(scope: Construct, device: AfmDevice): void {
  new NamespaceEgressRule(scope, 'PartnerApiLogged', {
    device,
    namespace: 'payments',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.fqdn('api.partner.example.com')],
    ports: [EgressPort.HTTPS],
    onMatch: EgressIRule.fromString(LOG_PARTNER_FLOWS),
    description: 'partner API, every flow logged by its iRule',
  });

  // With a bandwidth limit the rule still has one iRule: the generated bandwidth block runs
  // first, then this code, verbatim.
  new NamespaceEgressRule(scope, 'BackupUpload', {
    device,
    namespace: 'ops',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    ports: [EgressPort.HTTPS],
    bandwidthLimit: { maxBandwidth: 200 },
    onMatch: EgressIRule.fromFile(path.join(__dirname, 'irules', 'mark-backup.tcl')),
    description: 'offsite backup, 200 Mbps, DSCP CS1',
  });
}
