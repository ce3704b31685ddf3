/**
 * The limit generators produce only valid input: every device, rule and external service they
 * draw is exactly what the validating builders make of the equivalent props. Otherwise the
 * conformance tests would prove things about policies no user can write.
 */
import fc from 'fast-check';
import { EgressDestination } from '../../lib/policy/destination';
import { EgressSnat, buildDevice } from '../../lib/policy/device';
import type { DestinationModel, DeviceModel, RuleModel } from '../../lib/policy/model';
import { EgressPort } from '../../lib/policy/port';
import { buildExternalService, buildRule } from '../../lib/policy/schema';
import { limitPolicyArb, limitSharedArb } from '../support/arbitraries';

function destination(d: DestinationModel): EgressDestination {
  switch (d.kind) {
    case 'address':
      return EgressDestination.address(d.text);
    case 'cidr':
      return EgressDestination.cidr(d.text);
    case 'range': {
      const [first, last] = d.text.split('-');
      return EgressDestination.range(first, last);
    }
    case 'fqdn':
      return EgressDestination.fqdn(d.text);
    case 'externalService':
      return EgressDestination.externalService({ serviceName: d.name });
  }
}

function deviceProps(d: DeviceModel) {
  return {
    path: d.path,
    clusterName: d.cluster,
    tenant: d.tenant,
    application: d.application,
    routeDomain: d.routeDomain,
    defaultAction: d.defaultAction,
    // The model's empty lists are the defaults (any source, every VLAN): the props leave them out.
    podCidrs: d.podCidrs.length ? d.podCidrs.map((c) => c.text) : undefined,
    vlans: d.vlans.length ? [...d.vlans] : undefined,
    gateways: d.gateways.map((g) => g.text),
    snat:
      d.snat === 'POOL'
        ? EgressSnat.pool(d.snatAddresses.map((a) => a.text))
        : d.snat === 'NONE'
          ? EgressSnat.none()
          : EgressSnat.automap(),
    auditMode: d.audit,
    logging: {
      syslogServers: d.logging.servers.map((s) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`)),
      syslogTransport: d.logging.transport,
      localDatabase: d.logging.localDatabase,
      logIpErrors: d.logging.logIpErrors,
      logTcpErrors: d.logging.logTcpErrors,
      logTcpEvents: d.logging.logTcpEvents,
      logDefaultAction: d.logging.logDefaultAction,
      fields: [...d.logging.fields],
    },
    ipIntelligencePolicy: d.ipIntelligencePolicy,
    protocolInspectionProfile: d.protocolInspectionProfile,
    dnsResolver: d.dnsResolver,
  };
}

/** Props as a user writes them: unset props left out, no ports for every port. */
function ruleProps(r: RuleModel) {
  const props = {
    level: r.level,
    path: r.path,
    name: r.name,
    namespace: r.namespace,
    service: r.source.service,
    action: r.action,
    priority: r.priority,
    destinations: r.destinations.map(destination),
    ports:
      r.ports.length === 0
        ? undefined
        : r.ports.map((p) =>
            p.fromPort === undefined
              ? EgressPort.protocol(p.protocol)
              : EgressPort.of({ protocol: p.protocol, fromPort: p.fromPort, toPort: p.toPort }),
          ),
    namespaceSelector: r.source.namespaceSelector,
    podSelector: r.source.podSelector,
    logging: r.logging,
    audit: r.audit,
    description: r.description,
    bandwidthLimit: r.bandwidth && { maxBandwidth: r.bandwidth.maxBandwidth, unit: r.bandwidth.unit },
    schedule: r.schedule && {
      daysOfWeek: [...r.schedule.daysOfWeek],
      startTime: r.schedule.startTime,
      endTime: r.schedule.endTime,
      timeZone: r.schedule.timeZone,
    },
    expiresAt: r.expiresAt,
    owner: r.metadata.owner,
    ticket: r.metadata.ticket,
    justification: r.metadata.justification,
  };
  return Object.fromEntries(Object.entries(props).filter(([, v]) => v !== undefined)) as typeof props;
}

describe('the limit generators', () => {
  test('draw only devices, rules and external services the builders accept as they are', () => {
    let rules = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          limitPolicyArb(),
          limitSharedArb(4).map((ps) => ps[ps.length - 1]),
        ),
        (policy) => {
          expect(buildDevice(deviceProps(policy.device))).toEqual(policy.device);
          for (const es of policy.externalServices) {
            expect(
              buildExternalService({
                path: es.path,
                name: es.name,
                destinations: es.destinations.map(destination),
                description: es.description,
              }),
            ).toEqual(es);
          }
          for (const rule of policy.rules) {
            expect(buildRule(ruleProps(rule))).toEqual(rule);
            rules++;
          }
        },
      ),
      { numRuns: 300 },
    );
    expect(rules).toBeGreaterThan(600);
  });
});
