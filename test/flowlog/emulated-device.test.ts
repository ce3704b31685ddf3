/**
 * The emulated BIG-IP logs the AFM events of flows sent through it, as its deployed log profile
 * says, to its syslog servers: the receiver parses them and the records name the deciding rule
 * with the verdict the AFM evaluator gives. Rules without logging log nothing; an audit rule logs
 * a staged event beside the enforced one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, NamespaceEgressRule, SyslogTransport } from '../../lib';
import { RuleDirectory } from '../../lib/flowlog/enrich';
import { AddressHistory } from '../../lib/flowlog/history';
import { FlowReceiver } from '../../lib/flowlog/receiver';
import { readSynthOutput } from '../../lib/analysis/synth-output';
import { Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { deviceStack } from '../support/app';
import { synthInto } from '../cli/support';

jest.setTimeout(60_000);

function synthPolicy(transport: 'tcp' | 'udp'): string {
  return synthInto((app) => {
    const { stack, device } = deviceStack(
      {
        clusterName: 'prod',
        podCidrs: ['10.244.0.0/16'],
        logging: {
          syslogServers: ['192.0.2.50:5514'],
          syslogTransport: transport === 'udp' ? SyslogTransport.UDP : SyslogTransport.TCP,
          logDefaultAction: true,
        },
      },
      app,
    );
    new ClusterEgressRule(stack, 'AllowDns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP],
      logging: true,
      owner: 'security',
    });
    new ClusterEgressRule(stack, 'NoSmtp', {
      device,
      action: EgressAction.REJECT,
      destinations: [EgressDestination.cidr('0.0.0.0/0')],
      ports: [EgressPort.tcp(25)],
      logging: true,
      audit: true,
    });
    new NamespaceEgressRule(stack, 'BankSftp', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('198.51.100.0/24')],
      ports: [EgressPort.SSH],
      logging: true,
      ticket: 'PAY-7',
    });
    new NamespaceEgressRule(stack, 'Quiet', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      ports: [EgressPort.HTTPS],
    });
  });
}

describe.each(['tcp', 'udp'] as const)('emulated BIG-IP flow logs over %s', (transport) => {
  let emulators: Emulators;
  let receiver: FlowReceiver;
  const records: any[] = [];
  let workdir: string;

  beforeAll(async () => {
    workdir = synthPolicy(transport);
    const outdir = path.join(workdir, 'cdktf.out');
    emulators = await startEmulators({ bigip: { dnsResolvers: ['/Common/egress-resolver'] } });
    emulators.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'payments' } });
    await deploySynthOutput(outdir, emulators);
    const model = readSynthOutput(outdir, workdir)[0].artifact.model;
    const history = new AddressHistory();
    history.podUpdated(Date.parse('2026-03-02T09:00:00Z'), { namespace: 'payments', name: 'checkout-1', ips: ['10.244.1.11'] });
    receiver = new FlowReceiver({
      rules: RuleDirectory.fromModel(model),
      history,
      output: new Writable({
        write(chunk, _enc, done) {
          for (const l of String(chunk).trimEnd().split('\n')) records.push(JSON.parse(l));
          done();
        },
      }),
    });
    const ports = await receiver.listen({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
    emulators.bigip.setLogRoute((address, port, protocol) =>
      address === '192.0.2.50' && port === 5514
        ? { host: '127.0.0.1', port: (protocol === 'udp' ? ports.udpPort : ports.tcpPort) as number }
        : undefined,
    );
    const list = emulators.bigip.eventListTaskIds().find((t) => t.endsWith('src_ns_payments')) as string;
    await emulators.bigipClient.replaceListMembers(list, ['10.244.1.11']);
  });
  afterAll(async () => {
    await receiver?.close();
    await emulators?.stop();
    fs.rmSync(workdir, { recursive: true, force: true });
  });

  const send = async (destinationIp: string, protocol: string, port: number) => {
    const before = records.length;
    const at = new Date('2026-03-02T09:30:00Z');
    const sent = await emulators.bigip.sendFlow({ sourceIp: '10.244.1.11', destinationIp, protocol, port }, at);
    for (let i = 0; i < 200 && records.length < before + sent.lines.length; i++) await new Promise((r) => setTimeout(r, 10));
    return { sent, got: records.slice(before) };
  };

  test('an allowed namespace flow: one event, the namespace rule, the pod', async () => {
    const { sent, got } = await send('198.51.100.7', 'tcp', 22);
    expect(sent.evaluation.verdict).toBe('allow');
    // The route-domain context's match, enforced and staged (the staged policy holds the
    // enforced rules too); the virtual server's carried copy of the rule does not log again.
    expect(
      got.map((r) => [r.verdict, r.staged, r.rule?.key, r.rule?.ticket, r.source.pod, r.destination.port, r.protocol, r.context.type]),
    ).toEqual([
      ['allow', false, 'namespace/payments/bank-sftp', 'PAY-7', 'checkout-1', 22, 'tcp', 'Route Domain'],
      ['allow', true, 'namespace/payments/bank-sftp', 'PAY-7', 'checkout-1', 22, 'tcp', 'Route Domain'],
    ]);
  });

  test('a rule without logging logs nothing; the cluster ALLOW_FINAL logs from the global context', async () => {
    expect((await send('203.0.113.9', 'tcp', 443)).got).toEqual([]);
    const dns = await send('10.96.0.10', 'udp', 53);
    expect(dns.got.map((r) => [r.verdict, r.staged, r.action, r.rule?.key, r.context?.type])).toEqual([
      ['allow', false, 'accept-decisively', 'cluster/allow-dns', 'Global'],
      ['allow', true, 'accept-decisively', 'cluster/allow-dns', 'Global'],
    ]);
  });

  test('SMTP: the audit REJECT logs a staged event; the device default denies and logs it', async () => {
    const { sent, got } = await send('198.51.100.99', 'tcp', 25);
    expect(sent.evaluation.verdict).toBe('deny');
    expect(sent.evaluation.wouldBe).toBe('reject');
    expect(got.map((r) => [r.verdict, r.staged, r.rule?.key ?? (r.defaultRule ? 'default' : undefined)]).sort()).toEqual([
      ['deny', false, 'default'],
      ['reject', true, 'cluster/no-smtp'],
    ]);
    expect(emulators.bigip.undeliverableLogLines()).toBe(0);
  });
});
