// JetStream publishing for whole rounds of messages: each message goes out as a plain publish
// with its own reply subject under one inbox subscription, and one timer bounds the round.
// The client's per-message publish() builds a request, a timer and two Error objects (for
// their stack traces) per message, which cost more than the publish itself at our rates.
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { TextDecoder } from 'node:util';
import { errorMessage } from '../spec/errors.js';
import { BATCH_HEADER, type OutboundMessage } from './outbound.js';

export interface RoundResult {
  /** Indices (into the round) of messages the stream did not acknowledge. */
  failed: number[];
  /** Why the first failure failed. */
  firstError?: string;
}

interface Round {
  remaining: number;
  failed: Set<number>;
  firstError?: string;
  done: () => void;
}

export class AckedPublisher {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly decoder = new TextDecoder();
  /** Reply token → (round, index in round). */
  private readonly waiting = new Map<number, { round: Round; index: number }>();
  private nextToken = 0;

  constructor(private readonly nc: NatsConnection) {
    this.sub = nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.onReply(msg) });
  }

  private onReply(msg: Msg): void {
    const token = Number(msg.subject.slice(this.inbox.length + 1));
    const entry = this.waiting.get(token);
    if (entry === undefined) return; // late: its round already timed out
    this.waiting.delete(token);
    const error = replyError(msg, this.decoder);
    this.settle(entry.round, entry.index, error);
  }

  private settle(round: Round, index: number, error: string | undefined): void {
    if (error !== undefined) {
      round.failed.add(index);
      round.firstError ??= error;
    }
    round.remaining--;
    if (round.remaining === 0) round.done();
  }

  /** Publishes every message and resolves when each is acknowledged, refused or timed out. */
  publishRound(messages: readonly OutboundMessage[], timeoutMs: number): Promise<RoundResult> {
    if (messages.length === 0) return Promise.resolve({ failed: [] });
    return new Promise((resolve) => {
      const tokens: number[] = [];
      const timer = setTimeout(() => {
        for (const [i, token] of tokens.entries()) {
          if (this.waiting.delete(token)) this.settle(round, i, `no acknowledgement within ${timeoutMs} ms`);
        }
      }, timeoutMs);
      timer.unref();
      const round: Round = {
        remaining: messages.length,
        failed: new Set(),
        done: () => {
          clearTimeout(timer);
          const result: RoundResult = { failed: [...round.failed].sort((a, b) => a - b) };
          if (round.firstError !== undefined) result.firstError = round.firstError;
          resolve(result);
        },
      };
      messages.forEach((m, index) => {
        const token = this.nextToken++;
        tokens.push(token);
        this.waiting.set(token, { round, index });
        const h = headers();
        h.set('Nats-Msg-Id', m.msgId);
        if (m.count > 1) h.set(BATCH_HEADER, String(m.count));
        try {
          this.nc.publish(m.subject, m.data, { reply: `${this.inbox}.${token}`, headers: h });
        } catch (err) {
          this.waiting.delete(token);
          this.settle(round, index, errorMessage(err));
        }
      });
    });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** undefined for a PubAck (duplicates included), else why the stream refused the message. */
function replyError(msg: Msg, decoder: TextDecoder): string | undefined {
  // No stream listens on the subject: the server answers with a 503 status and no body.
  if (msg.headers !== undefined && msg.headers.hasError)
    return `${msg.headers.code} ${msg.headers.description}`;
  if (msg.data.length === 0) return 'empty reply';
  const text = decoder.decode(msg.data);
  if (!text.includes('"error"')) return undefined;
  try {
    const parsed = JSON.parse(text) as { error?: { description?: string; code?: number } };
    return parsed.error === undefined
      ? undefined
      : `${parsed.error.code ?? ''} ${parsed.error.description ?? text}`;
  } catch {
    return text;
  }
}
