// Frames of the trainer protocol: u32 big-endian header length, a UTF-8 JSON object header with
// a string `type`, then `header.payload` bytes. Pure: bytes in, frames out, and back.
import { ProtocolViolation } from './protocol-violation.js';

export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const MAX_PAYLOAD_BYTES = 2 ** 31 - 1;

export interface FrameHeader {
  type: string;
  payload?: number;
  [field: string]: unknown;
}

export interface Frame {
  header: FrameHeader;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

/** One frame's bytes; `header.payload` is set from the payload (0 when there is none). */
export function encodeFrame(header: FrameHeader, payload: Uint8Array = EMPTY): Buffer {
  const h = { ...header, payload: payload.length };
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  if (json.length > MAX_HEADER_BYTES)
    throw new RangeError(`frame header of ${json.length} bytes is too long`);
  if (payload.length > MAX_PAYLOAD_BYTES)
    throw new RangeError(`payload of ${payload.length} bytes is too long`);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, payload]);
}

/** The header as a frame header, or the violation that keeps it from being one. */
export function parseHeader(bytes: Buffer): FrameHeader {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ProtocolViolation('header', `not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ProtocolViolation('header', 'not a JSON object');
  const header = value as Record<string, unknown>;
  if (typeof header['type'] !== 'string') throw new ProtocolViolation('type', 'missing, or not a string');
  const payload = header['payload'];
  if (
    payload !== undefined &&
    (typeof payload !== 'number' || !Number.isInteger(payload) || payload < 0 || payload > MAX_PAYLOAD_BYTES)
  ) {
    throw new ProtocolViolation('payload', `${JSON.stringify(payload)} is not a byte count (0 … 2^31 − 1)`);
  }
  return header as FrameHeader;
}

/**
 * Cuts a byte stream into frames. `push` returns the frames the chunk completed and throws a
 * ProtocolViolation for one that breaks the rules; after that the stream is unusable.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** The header of the frame whose payload is being collected. */
  private header: FrameHeader | null = null;

  /** Bytes received that do not make a whole frame yet (a truncated frame at EOF). */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.header === null) {
        if (this.size < 4) break;
        const length = this.peek(4).readUInt32BE(0);
        if (length > MAX_HEADER_BYTES)
          throw new ProtocolViolation('header', `${length} bytes long; at most ${MAX_HEADER_BYTES}`);
        if (this.size < 4 + length) break;
        this.take(4);
        this.header = parseHeader(this.take(length));
      }
      const want = this.header.payload ?? 0;
      if (this.size < want) break;
      frames.push({ header: this.header, payload: want === 0 ? EMPTY : this.take(want) });
      this.header = null;
    }
    return frames;
  }

  /** The first n buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  /** Removes and returns the first n buffered bytes (n ≤ size), copying only across chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    return out;
  }
}
