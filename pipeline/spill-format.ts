// The record format of the publisher's spill file: length-prefixed (subject, msgID, payload)
// records with their event count. Pure, so torn tails and round trips are unit-tested without
// a file system.
import type { OutboundMessage } from './outbound.js';

const HEADER = 16; // four u32: subject, msgID and payload lengths, event count

export function encodeSpillRecords(messages: readonly OutboundMessage[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) {
    const subject = Buffer.from(m.subject, 'utf8');
    const msgId = Buffer.from(m.msgId, 'utf8');
    const head = Buffer.allocUnsafe(HEADER);
    head.writeUInt32LE(subject.length, 0);
    head.writeUInt32LE(msgId.length, 4);
    head.writeUInt32LE(m.data.length, 8);
    head.writeUInt32LE(m.count, 12);
    parts.push(head, subject, msgId, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.length));
  }
  return Buffer.concat(parts);
}

export interface DecodedSpill {
  messages: OutboundMessage[];
  /** Bytes at the end that do not form a whole record: a write cut short by a crash. */
  tornBytes: number;
}

export function decodeSpillRecords(buf: Buffer): DecodedSpill {
  const messages: OutboundMessage[] = [];
  let off = 0;
  while (off + HEADER <= buf.length) {
    const subjectLen = buf.readUInt32LE(off);
    const msgIdLen = buf.readUInt32LE(off + 4);
    const dataLen = buf.readUInt32LE(off + 8);
    const count = buf.readUInt32LE(off + 12);
    const end = off + HEADER + subjectLen + msgIdLen + dataLen;
    if (end > buf.length) break;
    let p = off + HEADER;
    const subject = buf.toString('utf8', p, p + subjectLen);
    p += subjectLen;
    const msgId = buf.toString('utf8', p, p + msgIdLen);
    p += msgIdLen;
    messages.push({ subject, msgId, data: new Uint8Array(buf.subarray(p, p + dataLen)), count });
    off = end;
  }
  return { messages, tornBytes: buf.length - off };
}
