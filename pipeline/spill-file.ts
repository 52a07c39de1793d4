// A bounded on-disk queue for events the publisher could not hand to NATS: appended while NATS
// is unreachable, replayed (msgIDs intact, so the stream de-duplicates) once it is back.
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboundMessage } from './outbound.js';
import { decodeSpillRecords, encodeSpillRecords } from './spill-format.js';

export class SpillFile {
  private bytes = 0;

  private constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {}

  /** Opens (creating the directory) and picks up what an earlier process left behind. */
  static async open(dir: string, maxBytes: number): Promise<SpillFile> {
    await mkdir(dir, { recursive: true });
    const file = new SpillFile(join(dir, 'events.spill'), maxBytes);
    try {
      file.bytes = (await stat(file.path)).size;
    } catch {
      file.bytes = 0;
    }
    return file;
  }

  get size(): number {
    return this.bytes;
  }

  /** False, writing nothing, when the messages would push the file past its bound. */
  async append(messages: readonly OutboundMessage[]): Promise<boolean> {
    if (messages.length === 0) return true;
    const buf = encodeSpillRecords(messages);
    if (this.bytes + buf.length > this.maxBytes) return false;
    const fh = await open(this.path, 'a');
    try {
      await fh.write(buf);
      // Spilled events exist nowhere else: make them survive a machine crash too.
      await fh.datasync();
    } finally {
      await fh.close();
    }
    this.bytes += buf.length;
    return true;
  }

  async readAll(): Promise<OutboundMessage[]> {
    if (this.bytes === 0) return [];
    return decodeSpillRecords(await readFile(this.path)).messages;
  }

  /** Replaces the contents atomically (rename), so a crash mid-replay loses nothing. */
  async replace(messages: readonly OutboundMessage[]): Promise<void> {
    const buf = encodeSpillRecords(messages);
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, buf, { flush: true });
    await rename(tmp, this.path);
    this.bytes = buf.length;
  }
}
