// The trainer protocol's frames: u32 big-endian header length, JSON header, payload; cut out of a
// byte stream however it arrives, and every malformed frame named by its field.
import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  MAX_HEADER_BYTES,
  type Frame,
} from '../../worker/trainers/command/frame-codec.js';
import { ProtocolViolation } from '../../worker/trainers/command/protocol-violation.js';

function raw(headerText: string, payload = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length, 0);
  return Buffer.concat([len, json, payload]);
}

function violation(bytes: Buffer): ProtocolViolation {
  try {
    new FrameDecoder().push(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolViolation);
    return err as ProtocolViolation;
  }
  throw new Error('expected a violation');
}

describe('trainer protocol frames', () => {
  it('encodes the header length big-endian, the header as JSON with its payload size, then the payload', () => {
    const bytes = encodeFrame({ type: 'reply', action: 'continue' }, Buffer.from([1, 2, 3]));
    const len = bytes.readUInt32BE(0);
    expect(JSON.parse(bytes.subarray(4, 4 + len).toString())).toEqual({
      type: 'reply',
      action: 'continue',
      payload: 3,
    });
    expect([...bytes.subarray(4 + len)]).toEqual([1, 2, 3]);
    expect(JSON.parse(encodeFrame({ type: 'reply' }).subarray(4).toString())).toEqual({
      type: 'reply',
      payload: 0,
    });
  });

  it('decodes frames however the stream is cut: byte by byte, or several in one chunk', () => {
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const stream = Buffer.concat([
      encodeFrame({ type: 'hello', protocol: 1 }),
      encodeFrame({ type: 'epoch', epoch: 0, note: 'é ✓' }, payload),
      raw('{"type":"done","status":"completed"}'),
    ]);
    const whole = new FrameDecoder().push(stream);
    const d = new FrameDecoder();
    const bytewise: Frame[] = [];
    for (let i = 0; i < stream.length; i++) bytewise.push(...d.push(stream.subarray(i, i + 1)));
    for (const frames of [whole, bytewise]) {
      expect(frames.map((f) => f.header.type)).toEqual(['hello', 'epoch', 'done']);
      expect(frames[1]!.header['note']).toBe('é ✓');
      expect(Buffer.compare(frames[1]!.payload, payload)).toBe(0);
      expect(frames[2]!.payload.length).toBe(0);
    }
    expect(d.buffered).toBe(0);
  });

  it('counts the bytes of an unfinished frame (a stream cut off in the middle of one)', () => {
    const d = new FrameDecoder();
    const f = encodeFrame({ type: 'epoch' }, Buffer.alloc(64));
    expect(d.push(f.subarray(0, f.length - 10))).toEqual([]);
    expect(d.buffered).toBeGreaterThan(0);
    expect(d.push(f.subarray(f.length - 10))).toHaveLength(1);
    expect(d.buffered).toBe(0);
  });

  it('names what is wrong with a malformed frame', () => {
    expect(violation(raw('{"type": "epoch", oops')).message).toMatch(/^header: not valid JSON/);
    expect(violation(raw('[1, 2]')).message).toBe('header: not a JSON object');
    expect(violation(raw('{"epoch": 1}')).message).toBe('type: missing, or not a string');
    expect(violation(raw('{"type": 7}')).field).toBe('type');
    expect(violation(raw('{"type": "epoch", "payload": -1}')).message).toBe(
      'payload: -1 is not a byte count (0 … 2^31 − 1)',
    );
    expect(violation(raw('{"type": "epoch", "payload": 1.5}')).field).toBe('payload');
    expect(violation(raw('{"type": "epoch", "payload": 2147483648}')).field).toBe('payload');
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_HEADER_BYTES + 1, 0);
    expect(violation(huge).message).toBe(
      `header: ${MAX_HEADER_BYTES + 1} bytes long; at most ${MAX_HEADER_BYTES}`,
    );
  });
});
