/**
 * RFC 6587 framing and the receiver: TCP frames split anywhere give the same messages, long
 * frames are skipped and counted, a flood against a stalled output pauses the TCP sockets and
 * drops (and counts) UDP datagrams instead of buffering them. Bounds are checked by counting,
 * never by timing.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { RuleDirectory } from '../../lib/flowlog/enrich';
import { SyslogFramer } from '../../lib/flowlog/framing';
import { AddressHistory } from '../../lib/flowlog/history';
import { FlowMetrics, FlowReceiver } from '../../lib/flowlog/receiver';
import { demoModel, fieldListLine } from './support';

function collect(max = 64) {
  const messages: string[] = [];
  const rejects: string[] = [];
  let peak = 0;
  const framer = new SyslogFramer({ message: (t) => messages.push(t), reject: (r) => rejects.push(r) }, max);
  const push = (b: Buffer) => {
    framer.push(b);
    peak = Math.max(peak, framer.buffered);
  };
  return { messages, rejects, push, peak: () => peak };
}

describe('RFC 6587 framing', () => {
  test('octet-counted and line-feed frames, mixed; CRLF; invalid UTF-8 and over-long frames are counted and skipped', () => {
    const c = collect(20);
    c.push(Buffer.from('5 hello<1>1 a b\r\n11 hello world'));
    c.push(
      Buffer.concat([
        Buffer.from('3 '),
        Buffer.from([0xff, 0xfe, 0x41]),
        Buffer.from('30 '),
        Buffer.from('x'.repeat(30)),
        Buffer.from('2 ok'),
        Buffer.from(`<${'y'.repeat(40)}\n<2>ok\n`),
      ]),
    );
    expect(c.messages).toEqual(['hello', '<1>1 a b', 'hello world', 'ok', '<2>ok']);
    expect(c.rejects).toEqual(['bad-encoding', 'too-long', 'too-long']);
  });

  test('any split of a stream into chunks gives the same messages, and never more than maxLength + 10 bytes are held', () => {
    const frame = fc.oneof(
      fc.string({ minLength: 1, maxLength: 30 }).map((s) => ({ kind: 'count' as const, s })),
      fc
        .string({ minLength: 1, maxLength: 30 })
        .filter((s) => !s.includes('\n') && /^[<a-z]/.test(s))
        .map((s) => ({ kind: 'line' as const, s })),
    );
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
        (frames, cuts) => {
          const bytes = Buffer.concat(
            frames.map((f) =>
              f.kind === 'count' ? Buffer.concat([Buffer.from(`${Buffer.byteLength(f.s)} `), Buffer.from(f.s)]) : Buffer.from(`${f.s}\n`),
            ),
          );
          const whole = collect(24);
          whole.push(bytes);
          const split = collect(24);
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length];
            split.push(bytes.subarray(at, at + n));
            at += n;
          }
          expect(split.messages).toEqual(whole.messages);
          expect(split.rejects).toEqual(whole.rejects);
          expect(split.peak()).toBeLessThanOrEqual(24 + 10);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** An output that accepts `capacity` writes, then holds every further one until released. */
class StalledOutput extends Writable {
  lines: string[] = [];
  private held?: () => void;
  constructor(private capacity: number) {
    super({ highWaterMark: 1, decodeStrings: false });
  }
  override _write(chunk: string, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(String(chunk));
    if (this.lines.length < this.capacity) done();
    else this.held = done;
  }
  release(): void {
    this.capacity = Number.MAX_SAFE_INTEGER;
    const h = this.held;
    this.held = undefined;
    h?.();
  }
}

/** Waits (event-loop turns, at most a few thousand) until `done` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
}

describe('receiver', () => {
  const LINE = fieldListLine({ rule: 'c_allow-dns_udp', action: 'Accept', dst: '10.96.0.10', dstPort: '53', protocol: 'UDP' });

  test('a flood of 20 000 events against a stalled output: the queue stays at its limit, the rest is counted as dropped', async () => {
    const output = new StalledOutput(10);
    const receiver = new FlowReceiver({ output, queueLimit: 100, rules: RuleDirectory.fromModel(demoModel()) });
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      receiver.receive(LINE, true);
      peak = Math.max(peak, receiver.queued);
    }
    expect(peak).toBe(100);
    const rejected = await receiver.metrics.rejected.get();
    expect(rejected.values).toEqual([{ labels: { reason: 'queue-full' }, value: 20_000 - 100 - output.lines.length }]);
    output.release();
    await new Promise((r) => setImmediate(r));
    expect(receiver.queued).toBe(0);
    expect(output.lines.length).toBe(receiver.written);
  });

  test('TCP: a stalled output pauses the connection instead of buffering, and the events arrive once it drains', async () => {
    const output = new StalledOutput(5);
    const receiver = new FlowReceiver({ output, queueLimit: 50, history: new AddressHistory() });
    const { tcpPort } = await receiver.listen({ host: '127.0.0.1', tcpPort: 0 });
    const client = net.connect(tcpPort as number, '127.0.0.1');
    try {
      await new Promise((r) => client.once('connect', r));
      const frame = `${Buffer.byteLength(LINE)} ${LINE}`;
      const total = 2000;
      // Written in one go; the kernel and the paused socket hold what the receiver does not read.
      client.write(frame.repeat(total));
      await until(() => receiver.pausedConnections === 1);
      // The limit, plus what the socket had read in its last chunk (64 KiB of ~300-byte frames).
      expect(receiver.queued).toBeLessThanOrEqual(50 + Math.ceil(65536 / frame.length));
      output.release();
      await until(() => output.lines.length === total);
      expect(output.lines.length).toBe(total);
      expect(receiver.pausedConnections).toBe(0);
      expect((await receiver.metrics.rejected.get()).values).toEqual([]);
    } finally {
      client.destroy();
      await receiver.close();
    }
  });

  test('UDP: one message per datagram; malformed ones are counted by reason; metrics carry only bounded labels', async () => {
    const lines: string[] = [];
    const output = new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) });
    const metrics = new FlowMetrics(undefined, 1, 1);
    const history = new AddressHistory();
    history.podUpdated(0, { namespace: 'payments', name: 'p', ips: ['10.244.1.5'], services: ['checkout'] });
    history.podUpdated(0, { namespace: 'payments', name: 'q', ips: ['10.244.1.7'] });
    history.podUpdated(0, { namespace: 'web', name: 'w', ips: ['10.244.1.6'] });
    const receiver = new FlowReceiver({ output, metrics, history, rules: RuleDirectory.fromModel(demoModel()) });
    const { udpPort } = await receiver.listen({ host: '127.0.0.1', udpPort: 0 });
    const socket = dgram.createSocket('udp4');
    const send = (text: string) => new Promise((r) => socket.send(text, udpPort as number, '127.0.0.1', r));
    try {
      await send(LINE);
      await send(fieldListLine({ rule: 'x_other_cluster_rule', src: '10.244.1.6' }));
      await send(fieldListLine({ rule: 'default', src: '10.244.9.9' }));
      // A second workload of a known namespace, past the workload cap of 1.
      await send(fieldListLine({ rule: 'default', src: '10.244.1.7' }));
      await send('garbage');
      await send(fieldListLine({ dstPort: '99999' }));
      let rejected = 0;
      await until(() => {
        void metrics.rejected.get().then((m) => (rejected = m.values.length));
        return lines.length === 4 && rejected === 2;
      });
    } finally {
      socket.close();
      await receiver.close();
    }
    expect(lines.map((l) => JSON.parse(l).rule?.key ?? JSON.parse(l).afm.rule)).toEqual([
      'cluster/allow-dns',
      'x_other_cluster_rule',
      'default',
      'default',
    ]);
    expect((await metrics.rejected.get()).values.map((v) => [v.labels.reason, v.value]).sort()).toEqual([
      ['bad-port', 1],
      ['not-syslog', 1],
    ]);
    expect(
      (await metrics.events.get()).values.map(
        (v) => `${v.labels.rule} ${v.labels.namespace} ${v.labels.workload} ${v.labels.verdict} ${v.labels.staged} ${v.value}`,
      ),
    ).toEqual([
      'cluster/allow-dns payments payments/checkout allow false 1',
      'unknown other other deny false 1',
      'default unknown unknown deny false 1',
      'default payments other deny false 1',
    ]);
  });
});
