/**
 * The flow-log receiver: the BIG-IP's HSL pool points at it (TCP and/or UDP), it parses each
 * AFM event, enriches it and writes one JSON line per event to its output (stdout in the
 * controller), counting per rule, namespace and verdict.
 *
 * Memory is bounded by construction: a TCP connection buffers at most one frame
 * (`maxLineBytes`), connections are capped, and the output queue holds at most `queueLimit`
 * lines. When the queue is full the receiver stops reading TCP sockets (the kernel's window
 * then pushes back on the device) and resumes them once the queue is half empty; a chunk a
 * socket had already read still goes in, so the queue holds at most `queueLimit` lines plus
 * `maxConnections` × 64 KiB of messages. UDP has no
 * back-pressure, so datagrams that find the queue full are dropped and counted (`queue-full`).
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { enrich, FlowRecord, recordLine, RuleDirectory } from './enrich';
import { decodeMessage, FramerSink, SyslogFramer } from './framing';
import type { AddressHistory } from './history';
import { AfmLogParser, DEFAULT_MAX_LINE, RejectReason } from './parse';

/** Label value for a rule the plan does not have, a namespace past the cap, an unattributed source. */
export const UNKNOWN = 'unknown';
export const OTHER = 'other';
export const DEFAULT_RULE_LABEL = 'default';

/** `value` if it is one of the first `max` values `seen`, else `other` (a bounded label). */
function capped(seen: Set<string>, max: number, value: string): string {
  if (seen.has(value)) return value;
  if (seen.size >= max) return OTHER;
  seen.add(value);
  return value;
}

/**
 * Prometheus counters with bounded labels: `rule` is a rule key of the plan, `default` or
 * `unknown` (AFM rule names from elsewhere never become labels); `namespace` is one of the first
 * `maxNamespaces` namespaces seen, `other` after that, or `unknown` when no pod held the
 * address; `workload` is `<namespace>/<first Service selecting the pod>` (`<namespace>/-` for a
 * pod no Service selects; pod names never become labels), one of the first `maxWorkloads` seen,
 * else `other`, and `other`/`unknown` where the namespace is; `verdict` is allow/deny/reject;
 * `staged` is true/false. The workload determines the namespace, so there are at most
 * (rules + 2) × (maxWorkloads + 2) × 3 × 2 series.
 */
export class FlowMetrics {
  readonly events: Counter<'rule' | 'namespace' | 'workload' | 'verdict' | 'staged'>;
  readonly rejected: Counter<'reason'>;
  readonly queueDepth: Gauge;
  readonly pausedSockets: Gauge;
  private readonly namespaces = new Set<string>();
  private readonly workloads = new Set<string>();
  /** Label children by their values: as bounded as the labels, and cheaper than a lookup per event. */
  private readonly children = new Map<string, { inc(): void }>();

  constructor(
    readonly registry: Registry = new Registry(),
    private readonly maxNamespaces = 50,
    private readonly maxWorkloads = 200,
  ) {
    const registers = [registry];
    this.events = new Counter({
      name: 'cdktf_ces_flow_events_total',
      help: 'AFM events received, by policy rule (rule key, default or unknown), source namespace and workload (capped), verdict and staged',
      labelNames: ['rule', 'namespace', 'workload', 'verdict', 'staged'],
      registers,
    });
    this.rejected = new Counter({
      name: 'cdktf_ces_flow_lines_rejected_total',
      help: 'Log lines dropped, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'cdktf_ces_flow_queue_depth', help: 'JSON lines waiting for the output', registers });
    this.pausedSockets = new Gauge({
      name: 'cdktf_ces_flow_paused_connections',
      help: 'TCP connections paused for back-pressure',
      registers,
    });
  }

  namespaceLabel(namespace: string | undefined): string {
    return namespace === undefined ? UNKNOWN : capped(this.namespaces, this.maxNamespaces, namespace);
  }

  workloadLabel(namespaceLabel: string, services: readonly string[] | undefined): string {
    if (namespaceLabel === UNKNOWN || namespaceLabel === OTHER) return namespaceLabel;
    return capped(this.workloads, this.maxWorkloads, `${namespaceLabel}/${services?.[0] ?? '-'}`);
  }

  count(record: FlowRecord): void {
    const rule = record.rule?.key ?? (record.defaultRule ? DEFAULT_RULE_LABEL : UNKNOWN);
    const namespace = this.namespaceLabel(record.source.namespace);
    const workload = this.workloadLabel(namespace, record.source.services);
    const key = `${rule} ${workload} ${namespace} ${record.verdict} ${record.staged}`;
    let child = this.children.get(key);
    if (!child) {
      child = this.events.labels({ rule, namespace, workload, verdict: record.verdict, staged: String(record.staged) });
      this.children.set(key, child);
    }
    child.inc();
  }
}

export interface FlowReceiverOptions {
  readonly parser?: AfmLogParser;
  readonly history?: AddressHistory;
  readonly rules?: RuleDirectory;
  /** Route domains of namespaces of their own: the history keeps their pods' addresses as `ip%id`. */
  readonly ownRouteDomains?: ReadonlySet<number>;
  /** Where JSON lines go; returns false when it wants no more until `drain`. @default process.stdout */
  readonly output?: NodeJS.WritableStream;
  /** Most lines queued for the output. @default 10000 */
  readonly queueLimit?: number;
  /** Longest syslog message in bytes. @default 8192 */
  readonly maxLineBytes?: number;
  /** Most TCP connections at once. @default 64 */
  readonly maxConnections?: number;
  readonly metrics?: FlowMetrics;
}

export interface ListenOptions {
  readonly host?: string;
  /** TCP port; 0 picks one; undefined: no TCP listener. */
  readonly tcpPort?: number;
  /** UDP port; 0 picks one; undefined: no UDP listener. */
  readonly udpPort?: number;
}

export class FlowReceiver {
  readonly metrics: FlowMetrics;
  private readonly parser: AfmLogParser;
  private readonly output: NodeJS.WritableStream;
  private readonly queueLimit: number;
  private readonly maxLineBytes: number;
  private readonly maxConnections: number;
  private readonly queue: string[] = [];
  private queueHead = 0;
  private waitingForDrain = false;
  private readonly sockets = new Set<net.Socket>();
  private paused = false;
  private tcp?: net.Server;
  private udp?: dgram.Socket;
  /** Lines handed to the output. */
  written = 0;

  constructor(private readonly options: FlowReceiverOptions = {}) {
    this.parser = options.parser ?? new AfmLogParser();
    this.output = options.output ?? process.stdout;
    this.queueLimit = Math.max(1, options.queueLimit ?? 10_000);
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE;
    this.maxConnections = options.maxConnections ?? 64;
    this.metrics = options.metrics ?? new FlowMetrics();
  }

  /** Lines waiting for the output. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  get pausedConnections(): number {
    return this.paused ? this.sockets.size : 0;
  }

  /** One syslog message (unframed). `datagram`: it came by UDP, so a full queue drops it. */
  receive(text: string, datagram = false): void {
    const result = this.parser.parse(text);
    if (!result.ok) {
      this.reject(result.reason);
      return;
    }
    // TCP sockets are paused at the limit and never lose an event: what a socket had already
    // read (one chunk, at most 64 KiB) still goes in, so the queue overshoots by at most
    // maxConnections × 64 KiB of messages. UDP has no back-pressure: at the limit it drops.
    if (datagram && this.queued >= this.queueLimit) {
      this.reject('queue-full');
      return;
    }
    const record = enrich(result.event, this.options.history, this.options.rules, this.options.ownRouteDomains);
    this.metrics.count(record);
    this.queue.push(recordLine(record));
    this.flush();
  }

  reject(reason: RejectReason): void {
    this.metrics.rejected.inc({ reason });
  }

  async listen(options: ListenOptions): Promise<{ tcpPort?: number; udpPort?: number }> {
    const host = options.host ?? '0.0.0.0';
    const out: { tcpPort?: number; udpPort?: number } = {};
    if (options.tcpPort !== undefined) {
      const server = net.createServer((socket) => this.accept(socket));
      server.maxConnections = this.maxConnections;
      this.tcp = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.tcpPort, host, () => resolve());
      });
      out.tcpPort = (server.address() as net.AddressInfo).port;
    }
    if (options.udpPort !== undefined) {
      const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      this.udp = socket;
      const sink: FramerSink = { message: (t) => this.receive(t.replace(/\r?\n$/, ''), true), reject: (r) => this.reject(r) };
      socket.on('message', (msg) => {
        if (msg.length > this.maxLineBytes) this.reject('too-long');
        else decodeMessage(msg, sink);
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.udpPort, host, () => resolve());
      });
      out.udpPort = socket.address().port;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const tcp = this.tcp;
    const udp = this.udp;
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const framer = new SyslogFramer({ message: (t) => this.receive(t), reject: (r) => this.reject(r) }, this.maxLineBytes);
    if (this.paused) socket.pause();
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  private flush(): void {
    while (!this.waitingForDrain && this.queueHead < this.queue.length) {
      const line = this.queue[this.queueHead++];
      this.written++;
      if (!this.output.write(line)) {
        this.waitingForDrain = true;
        this.output.once('drain', () => {
          this.waitingForDrain = false;
          this.flush();
        });
      }
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    const depth = this.queued;
    this.metrics.queueDepth.set(depth);
    if (!this.paused && depth >= this.queueLimit) {
      this.paused = true;
      for (const s of this.sockets) s.pause();
    } else if (this.paused && depth <= this.queueLimit / 2) {
      this.paused = false;
      for (const s of this.sockets) s.resume();
    }
    this.metrics.pausedSockets.set(this.pausedConnections);
  }
}
