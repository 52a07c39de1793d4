// The worker's end of the protocol channel: frames out, and frames in as a queue that the
// conversation takes one at a time, each tagged with how many frames the worker had sent when
// it arrived (so a frame sent before the worker's answer is seen to be out of turn).
import type { Socket } from 'node:net';
import { encodeFrame, FrameDecoder, type Frame, type FrameHeader } from './frame-codec.js';
import type { ProtocolViolation } from './protocol-violation.js';

export type Incoming =
  | { kind: 'frame'; frame: Frame; sentBefore: number }
  /** The trainer's end closed; `partial`: in the middle of a frame. */
  | { kind: 'eof'; partial: boolean }
  | { kind: 'bad'; violation: ProtocolViolation };

export type Wait = Incoming | { kind: 'timeout' } | { kind: 'abort' };

/** A delay setTimeout takes as given: it fires at once for anything over 2^31 − 1 ms. */
export function clampDelay(ms: number): number {
  return Math.min(Math.max(0, ms), 2 ** 31 - 1);
}

export class FrameChannel {
  private readonly decoder = new FrameDecoder();
  private readonly queue: Incoming[] = [];
  private waiter: ((item: Incoming) => void) | undefined;
  private ended = false;
  private sent = 0;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      try {
        for (const frame of this.decoder.push(chunk))
          this.deliver({ kind: 'frame', frame, sentBefore: this.sent });
      } catch (err) {
        this.ended = true;
        this.deliver({ kind: 'bad', violation: err as ProtocolViolation });
      }
    });
    const eof = () => {
      if (this.ended) return;
      this.ended = true;
      this.deliver({ kind: 'eof', partial: this.decoder.buffered > 0 });
    };
    socket.on('end', eof);
    socket.on('close', eof);
    // A peer that died mid-write (EPIPE, ECONNRESET) is an end of the channel like any other.
    socket.on('error', eof);
  }

  send(header: FrameHeader, payload?: Uint8Array): void {
    this.sent++;
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeFrame(header, payload));
  }

  /**
   * The next thing that happens: a frame (or the end, or a broken frame), else `timeout` after
   * `timeoutMs`, or `abort` when `signal` fires first.
   */
  next(timeoutMs: number, signal?: AbortSignal): Promise<Wait> {
    const ready = this.queue.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (signal?.aborted) return Promise.resolve({ kind: 'abort' });
    return new Promise<Wait>((resolve) => {
      const done = (w: Wait) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(w);
      };
      const onAbort = () => done({ kind: 'abort' });
      const timer = setTimeout(() => done({ kind: 'timeout' }), clampDelay(timeoutMs));
      timer.unref();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
    });
  }

  private deliver(item: Incoming): void {
    const w = this.waiter;
    if (w !== undefined) w(item);
    else this.queue.push(item);
  }
}
