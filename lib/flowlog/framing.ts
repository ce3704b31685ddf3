/**
 * Syslog over TCP (RFC 6587): each frame is either octet-counted (`MSG-LEN SP SYSLOG-MSG`,
 * section 3.4.1) or ends in a line feed (non-transparent framing, section 3.4.2; a CR before the
 * LF is dropped). A sender may mix them; the first byte of each frame tells which. The framer
 * holds at most `maxLength` bytes of one frame: a longer frame is counted and skipped (its
 * declared length, or up to the next line feed), never buffered.
 */
import type { RejectReason } from './parse';

export interface FramerSink {
  message(text: string): void;
  reject(reason: RejectReason): void;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One message's bytes as text; invalid UTF-8 is a reject. */
export function decodeMessage(bytes: Uint8Array, sink: FramerSink): void {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    sink.reject('bad-encoding');
    return;
  }
  sink.message(text);
}

export class SyslogFramer {
  private buffer: Buffer = Buffer.alloc(0);
  /** Bytes still to skip of an over-long octet-counted frame. */
  private skipBytes = 0;
  /** Skipping up to the next line feed (an over-long or unframeable line). */
  private skipLine = false;

  constructor(
    private readonly sink: FramerSink,
    private readonly maxLength: number,
  ) {}

  /** Bytes held for an unfinished frame: never more than maxLength + 8. */
  get buffered(): number {
    return this.buffer.length;
  }

  push(chunk: Buffer): void {
    let data = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    this.buffer = Buffer.alloc(0);
    for (;;) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, data.length);
        this.skipBytes -= n;
        data = data.subarray(n);
        if (this.skipBytes > 0) return;
      }
      if (this.skipLine) {
        const lf = data.indexOf(LF);
        if (lf < 0) return;
        this.skipLine = false;
        data = data.subarray(lf + 1);
      }
      if (data.length === 0) return;
      const first = data[0];
      if (first === LF || first === CR || first === SP) {
        data = data.subarray(1);
        continue;
      }
      if (first >= 0x31 && first <= 0x39) {
        // MSG-LEN: a non-zero digit and at most 9 more (RFC 6587 has no upper bound; we do).
        let i = 1;
        while (i < data.length && i < 10 && data[i] >= 0x30 && data[i] <= 0x39) i++;
        if (i === data.length && i < 10) {
          this.keep(data);
          return;
        }
        if (data[i] !== SP) {
          this.sink.reject('not-syslog');
          this.skipLine = true;
          data = data.subarray(i);
          continue;
        }
        const length = Number(data.subarray(0, i).toString('latin1'));
        const start = i + 1;
        if (length > this.maxLength) {
          this.sink.reject('too-long');
          this.skipBytes = length;
          data = data.subarray(start);
          continue;
        }
        if (data.length - start < length) {
          this.keep(data);
          return;
        }
        decodeMessage(data.subarray(start, start + length), this.sink);
        data = data.subarray(start + length);
        continue;
      }
      const lf = data.indexOf(LF);
      if (lf < 0) {
        if (data.length > this.maxLength) {
          this.sink.reject('too-long');
          this.skipLine = true;
          return;
        }
        this.keep(data);
        return;
      }
      const end = lf > 0 && data[lf - 1] === CR ? lf - 1 : lf;
      if (end > this.maxLength) this.sink.reject('too-long');
      else decodeMessage(data.subarray(0, end), this.sink);
      data = data.subarray(lf + 1);
    }
  }

  /** Copies the unfinished frame, so the chunk it came in can be freed. */
  private keep(data: Buffer): void {
    this.buffer = Buffer.from(data);
  }
}
