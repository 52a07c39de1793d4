// Where a worker's probe events go: over its coordinator stream (embedded mode) or to NATS
// JetStream (cluster mode). Either way publish() returns fast; flush() waits until every event
// published so far has left the worker, and is called before a trial's result is sent.
import type { ProbeEvent } from '../proto/index.js';

export interface ProbeSink {
  publish(event: ProbeEvent): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Batches events onto the coordinator stream: by count, or after `maxDelayMs`. While the stream
 * is down (`send` returns false) events stay buffered and go out after the reconnect.
 */
export class StreamProbeSink implements ProbeSink {
  private buffer: ProbeEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: (events: ProbeEvent[]) => boolean,
    private readonly maxBatch = 64,
    private readonly maxDelayMs = 200,
  ) {}

  publish(event: ProbeEvent): Promise<void> {
    this.buffer.push(event);
    if (this.buffer.length >= this.maxBatch) this.drain();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.drain(), this.maxDelayMs);
      this.timer.unref();
    }
    return Promise.resolve();
  }

  flush(): Promise<void> {
    this.drain();
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.flush();
  }

  private drain(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    if (!this.send(batch)) this.buffer = [...batch, ...this.buffer];
  }
}
