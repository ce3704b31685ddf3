/**
 * The AFM network-firewall events the emulated BIG-IP logs for a flow, sent to the remote
 * syslog servers its declaration configures: the demo's and the tests' source of flow logs.
 *
 * The verdict and the rule of each context come from the AFM evaluator (lib/afm/evaluator.ts)
 * over what the emulated device holds (the stored declaration, the context attachments, the
 * event-driven lists). What is logged and where follows the configuration, as F5 documents it:
 * - A rule match is logged when the rule has logging on (AS3 `Firewall_Rule.loggingEnabled`,
 *   tmsh `log yes`) and the log profile's network section logs matches of its action
 *   (`logRuleMatchAccepts`/`Drops`/`Rejects`; F5 "Local Logging with AFM Network Firewall",
 *   BIG-IP AFM 14.1 manual, "Log Rule Matches").
 * - Each context whose rule matched logs its own event, with its context type and name
 *   (`context-type` Global / Route Domain / Virtual Server); a hit in a staged policy logs with
 *   `acl-policy-type` Staged (F5 AFM 11.4 manual, "Viewing enforced and staged policy rule
 *   logs"). Whether the global and route-domain contexts log through the virtual server's
 *   profile is unsettled in the sources; docs/verification.md takes that reading, and traffic
 *   that reaches no virtual server (the built-in `global-network` profile) is not sent anywhere.
 * - The message: RFC 5424 (`Log_Destination` type `remote-syslog`, `format: rfc5424`), MSGID
 *   23003137 (F5's message id of network firewall events), the values of
 *   `storageFormat.fields` joined by its delimiter, in double quotes; over the
 *   `remote-high-speed-log` destination's protocol to the members of its pool (the first
 *   member: the HSL distribution `adaptive`, AS3's default, sends to one member until it fails).
 *   TCP frames end in a line feed (RFC 6587 non-transparent framing; which framing the device
 *   uses is unsettled, and the receiver reads both).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { AfmChainResult, AfmContextStep, AfmEvaluation, AfmFirewall, AfmListState } from '../../../lib/afm/evaluator';

/** A flow a pod sends through the device. */
export interface EmulatedFlow {
  readonly sourceIp: string;
  readonly sourcePort?: number;
  readonly destinationIp: string;
  readonly protocol: string;
  readonly port?: number;
  readonly routeDomain?: number;
}

/** Where a syslog server address of the declaration is reached from this machine (the emulated network). */
export type LogRoute = (address: string, port: number, protocol: 'tcp' | 'udp') => { host: string; port: number } | undefined;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const ACTION_WORD: Readonly<Record<string, string>> = {
  accept: 'Accept',
  'accept-decisively': 'Accept Decisively',
  drop: 'Drop',
  reject: 'Reject',
};
const CONTEXT_WORD = { global: 'Global', 'route-domain': 'Route Domain', 'virtual-server': 'Virtual Server' } as const;
const MATCH_SETTING: Readonly<Record<string, string>> = {
  accept: 'logRuleMatchAccepts',
  'accept-decisively': 'logRuleMatchAccepts',
  drop: 'logRuleMatchDrops',
  reject: 'logRuleMatchRejects',
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mmm dd yyyy HH:MM:SS`, the device's `date-time` (its clock, here UTC). */
function dateTime(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** A declaration object by AS3 path or `use` pointer relative to `/tenant/app`. */
function objectAt(declaration: Obj, pointer: string, from: readonly string[]): Obj | undefined {
  let at: unknown = declaration;
  for (const p of pathOf(pointer, from)) at = isObj(at) ? at[p] : undefined;
  return isObj(at) ? at : undefined;
}

/** The `[tenant, app, name]` a pointer names: absolute, or relative to `from`'s tenant and app. */
function pathOf(pointer: string, from: readonly string[]): string[] {
  return pointer.startsWith('/') ? pointer.slice(1).split('/') : [...from.slice(0, 3 - pointer.split('/').length), ...pointer.split('/')];
}

interface LogTarget {
  readonly fields: readonly string[];
  readonly delimiter: string;
  readonly network: Obj;
  readonly protocol: 'tcp' | 'udp';
  readonly servers: readonly { address: string; port: number }[];
}

/** The remote syslog servers and message format of a virtual server's security log profile. */
function logTargetOf(declaration: Obj, virtualServer: string): LogTarget | undefined {
  const vsPath = virtualServer.slice(1).split('/');
  const vs = objectAt(declaration, virtualServer, vsPath);
  const app = vsPath.slice(0, 2);
  for (const ref of (vs?.securityLogProfiles as Obj[] | undefined) ?? []) {
    if (typeof ref.use !== 'string') continue;
    const at = pathOf(ref.use, app);
    const profile = objectAt(declaration, ref.use, app);
    const network = profile?.network;
    if (!isObj(network) || !isObj(network.publisher) || typeof network.publisher.use !== 'string') continue;
    const publisher = objectAt(declaration, network.publisher.use, at);
    for (const d of (publisher?.destinations as Obj[] | undefined) ?? []) {
      if (typeof d.use !== 'string') continue; // `bigip: /Common/local-db`: on the device only
      const syslog = objectAt(declaration, d.use, at);
      const hslRef = isObj(syslog?.remoteHighSpeedLog) ? (syslog?.remoteHighSpeedLog as Obj).use : undefined;
      if (syslog?.format !== 'rfc5424' || typeof hslRef !== 'string') continue;
      const hsl = objectAt(declaration, hslRef, at);
      const poolRef = isObj(hsl?.pool) ? (hsl?.pool as Obj).use : undefined;
      if (typeof poolRef !== 'string') continue;
      const pool = objectAt(declaration, poolRef, at);
      const servers = ((pool?.members as Obj[] | undefined) ?? []).flatMap((m) =>
        ((m.serverAddresses as string[] | undefined) ?? []).map((a) => ({
          address: a.replace(/%\d+$/, ''),
          port: m.servicePort as number,
        })),
      );
      const format = isObj(network.storageFormat) ? network.storageFormat : {};
      return {
        fields: (format.fields as string[] | undefined) ?? [],
        delimiter: (format.delimiter as string | undefined) ?? ',',
        network,
        protocol: hsl?.protocol === 'udp' ? 'udp' : 'tcp',
        servers,
      };
    }
  }
  return undefined;
}

/** Whether the AFM rule of a hit has logging on, read from the declaration. */
function ruleLogs(declaration: Obj, hit: NonNullable<AfmContextStep['hit']>): boolean {
  const container = objectAt(declaration, hit.ruleList ?? hit.policy, []);
  const rules = (container?.rules as Obj[] | undefined) ?? [];
  return rules.some((r) => r.name === hit.rule && r.loggingEnabled === true);
}

export class AfmEventLogger {
  private readonly tcp = new Map<string, net.Socket>();
  private udp?: dgram.Socket;
  private nextPort = 40000;
  /** Messages that had no route to their server. */
  undeliverable = 0;

  constructor(
    private readonly hostname: string,
    private route: LogRoute | undefined,
  ) {}

  setRoute(route: LogRoute | undefined): void {
    this.route = route;
  }

  /** The log lines the device writes for one flow (one per logged context match, enforced and staged). */
  linesFor(
    declaration: Obj,
    evaluation: AfmEvaluation,
    flow: EmulatedFlow,
    at: Date,
    sourcePort: number,
  ): { target?: LogTarget; lines: string[] } {
    const vsPath = evaluation.enforced.virtualServer;
    const target = vsPath ? logTargetOf(declaration, vsPath) : undefined;
    if (!target) return { lines: [] };
    const lines: string[] = [];
    const emit = (chain: AfmChainResult, type: 'Enforced' | 'Staged', only?: (step: AfmContextStep, i: number) => boolean) => {
      chain.steps.forEach((step, i) => {
        const hit = step.hit;
        if (step.outcome !== 'match' || !hit || (only && !only(step, i))) return;
        if (!ruleLogs(declaration, hit) || target.network[MATCH_SETTING[hit.action]] !== true) return;
        const contextName =
          step.context === 'virtual-server' ? vsPath : step.context === 'route-domain' ? `/Common/${flow.routeDomain ?? 0}` : 'Global';
        const values: Readonly<Record<string, string>> = {
          'acl-policy-name': hit.policy,
          'acl-policy-type': type,
          'acl-rule-name': hit.rule,
          action: ACTION_WORD[hit.action],
          'bigip-hostname': this.hostname,
          'context-name': contextName as string,
          'context-type': CONTEXT_WORD[step.context],
          'date-time': dateTime(at),
          'dest-ip': flow.destinationIp,
          'dest-port': flow.port === undefined ? '' : String(flow.port),
          protocol: flow.protocol.toUpperCase(),
          'route-domain': String(flow.routeDomain ?? 0),
          'src-ip': flow.sourceIp,
          'src-port': String(sourcePort),
        };
        const msg = target.fields.map((f) => `"${values[f] ?? ''}"`).join(target.delimiter);
        // PRI 134: facility local0, severity informational.
        lines.push(`<134>1 ${at.toISOString()} ${this.hostname} tmm - 23003137 - ${msg}`);
      });
    };
    emit(evaluation.enforced, 'Enforced');
    if (evaluation.hasStaged) {
      // The staged policy of a context logs its own match; where a context stages the policy it
      // enforces, that match is the enforced event already.
      emit(evaluation.staged, 'Staged', (step, i) => step.policy !== evaluation.enforced.steps[i]?.policy);
    }
    return { target, lines };
  }

  /** Evaluates the flow, sends its log lines to the configured servers, returns both. */
  async send(
    declaration: Obj,
    firewall: AfmFirewall,
    state: AfmListState,
    flow: EmulatedFlow,
    at: Date = new Date(),
  ): Promise<{ evaluation: AfmEvaluation; lines: string[] }> {
    const evaluation = firewall.evaluate(
      {
        sourceIp: flow.sourceIp,
        routeDomain: flow.routeDomain ?? 0,
        destinationIp: flow.destinationIp,
        protocol: flow.protocol,
        port: flow.port,
      },
      state,
    );
    const sourcePort = flow.sourcePort ?? this.nextPort++;
    if (this.nextPort > 60999) this.nextPort = 40000;
    const { target, lines } = this.linesFor(declaration, evaluation, flow, at, sourcePort);
    const server = target?.servers[0];
    for (const line of lines) {
      const to = server && this.route?.(server.address, server.port, target.protocol);
      if (!to) {
        this.undeliverable++;
        continue;
      }
      if (target.protocol === 'udp') await this.sendUdp(to, line);
      else await this.sendTcp(to, line);
    }
    return { evaluation, lines };
  }

  async close(): Promise<void> {
    for (const s of this.tcp.values()) await new Promise<void>((resolve) => s.end(() => resolve()));
    this.tcp.clear();
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  private async sendTcp(to: { host: string; port: number }, line: string): Promise<void> {
    const key = `${to.host}:${to.port}`;
    let socket = this.tcp.get(key);
    if (!socket || socket.destroyed) {
      const s = net.connect(to.port, to.host);
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      // A receiver going away drops the connection; the next message opens a new one.
      s.on('error', () => s.destroy());
      this.tcp.set(key, s);
      socket = s;
    }
    await new Promise<void>((resolve) => (socket as net.Socket).write(`${line}\n`, () => resolve()));
  }

  private async sendUdp(to: { host: string; port: number }, line: string): Promise<void> {
    if (!this.udp) this.udp = dgram.createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
    const udp = this.udp;
    await new Promise<void>((resolve) => udp.send(line, to.port, to.host, () => resolve()));
  }
}
