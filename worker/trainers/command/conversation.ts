// Whose turn it is in the trainer protocol and what may come next: hello → start, then epoch
// reports each answered by a reply (continue, checkpoint, stop), checkpoints when asked, done.
// Pure: it checks each frame the trainer sends against the turn and its fields, and builds the
// worker's answers. Frames that arrive before the worker answered the previous one are out of turn.
import { isAbsolute } from 'node:path';
import type { Frame, FrameHeader } from './frame-codec.js';
import { parseEpochReport, type EpochReport } from './epoch-report.js';
import { PROTOCOL_VERSION, ProtocolViolation, UnsupportedProtocol } from './protocol-violation.js';

export type ReplyAction = 'continue' | 'checkpoint' | 'stop';
export type StopReason = 'cancelled' | 'lease lost' | 'shutdown' | 'early stop';
export type DoneStatus = 'completed' | 'diverged' | 'failed';

export interface Hello {
  type: 'hello';
  client: string | undefined;
  versions: Record<string, string>;
}

export interface EpochMessage {
  type: 'epoch';
  report: EpochReport;
}

export interface CheckpointMessage {
  type: 'checkpoint';
  epoch: number;
  /** Where the bytes are: this frame's payload, or a file the trainer wrote. */
  source: { payload: Buffer } | { path: string };
}

export interface Done {
  type: 'done';
  status: DoneStatus;
  reason: string | undefined;
}

export type TrainerMessage = Hello | EpochMessage | CheckpointMessage | Done;

/** What the trainer may send next. */
export type Awaiting = 'hello' | 'report' | 'checkpoint' | 'nothing';

const STATUSES: readonly DoneStatus[] = ['completed', 'diverged', 'failed'];

export interface ConversationOptions {
  /** The first epoch this attempt trains (0, or the one after the checkpoint). */
  firstEpoch: number;
  /** The trial's epoch count: epochs firstEpoch … epochs − 1 are reported. */
  epochs: number;
}

export class Conversation {
  private awaiting: Awaiting = 'hello';
  /** The worker owes an answer to the last frame. */
  private owed: 'start' | 'reply-epoch' | 'reply-checkpoint' | null = null;
  /** Messages the worker has sent. */
  private said = 0;
  /** The epoch the next report must carry. */
  next: number;
  /** The epoch last reported in this attempt (null: none yet). */
  lastReported: number | null = null;

  constructor(private readonly o: ConversationOptions) {
    this.next = o.firstEpoch;
  }

  /** Messages sent so far: a frame is in turn only if it arrived after all of them. */
  get sent(): number {
    return this.said;
  }

  /**
   * The epoch the conversation is at, for messages: the report being answered or checkpointed,
   * else the one due next.
   */
  get epoch(): number {
    const atReport =
      this.owed === 'reply-epoch' || this.awaiting === 'checkpoint' || this.owed === 'reply-checkpoint';
    return atReport && this.lastReported !== null ? this.lastReported : this.next;
  }

  /** What the trainer may send next: hello first, reports, a checkpoint asked for, or nothing more. */
  get expecting(): Awaiting {
    return this.awaiting;
  }

  /** Checks a frame that arrived after the worker had sent `sentBefore` messages, and takes it. */
  receive(frame: Frame, sentBefore: number): TrainerMessage {
    const { header } = frame;
    const type = header.type;
    if (this.awaiting === 'nothing')
      throw new ProtocolViolation(
        'type',
        `"${type}" after the conversation ended; nothing may follow done or stop`,
      );
    if (this.owed !== null || sentBefore < this.said)
      throw new ProtocolViolation(
        'type',
        `"${type}" sent before the worker answered the previous frame (out of turn)`,
      );
    if (this.awaiting === 'hello' && type !== 'hello')
      throw new ProtocolViolation('type', `"${type}" before hello; hello comes first`);
    switch (type) {
      case 'hello':
        return this.hello(header);
      case 'epoch':
        return this.report(frame);
      case 'checkpoint':
        return this.checkpoint(frame);
      case 'done':
        return this.done(header);
      default:
        throw new ProtocolViolation('type', `unknown frame type "${type}"`);
    }
  }

  /** The start frame's header is being sent (the answer to hello). */
  started(): void {
    if (this.owed !== 'start') throw new Error('start is the answer to hello only');
    this.owed = null;
    this.said++;
    this.awaiting = 'report';
  }

  /** The reply header to send now; `checkpoint` only answers an epoch report. */
  reply(action: ReplyAction, reason?: StopReason): FrameHeader {
    if (this.owed !== 'reply-epoch' && this.owed !== 'reply-checkpoint')
      throw new Error('a reply answers an epoch or checkpoint frame only');
    if (action === 'checkpoint' && this.owed !== 'reply-epoch')
      throw new Error('a checkpoint is asked for in the reply to an epoch report');
    this.owed = null;
    this.said++;
    this.awaiting = action === 'continue' ? 'report' : action === 'checkpoint' ? 'checkpoint' : 'nothing';
    return reason === undefined ? { type: 'reply', action } : { type: 'reply', action, reason };
  }

  private hello(h: FrameHeader): Hello {
    if (this.awaiting !== 'hello') throw new ProtocolViolation('type', 'hello only as the first frame');
    if (h['protocol'] !== PROTOCOL_VERSION) throw new UnsupportedProtocol(h['protocol']);
    const client = h['client'];
    if (client !== undefined && typeof client !== 'string')
      throw new ProtocolViolation('hello.client', 'not a string');
    const versions = h['versions'] ?? {};
    if (
      versions === null ||
      typeof versions !== 'object' ||
      Array.isArray(versions) ||
      !Object.values(versions).every((v) => typeof v === 'string')
    )
      throw new ProtocolViolation('hello.versions', 'expected an object of name → version string');
    this.owed = 'start';
    return { type: 'hello', client, versions: versions as Record<string, string> };
  }

  private report(frame: Frame): EpochMessage {
    if (this.awaiting === 'checkpoint')
      throw new ProtocolViolation(
        'type',
        `"epoch" where the worker asked for a checkpoint of epoch ${this.lastReported}`,
      );
    const report = parseEpochReport(frame.header, frame.payload);
    if (report.epoch !== this.next)
      throw new ProtocolViolation('epoch', `${report.epoch}, expected ${this.next}`);
    if (report.epoch >= this.o.epochs)
      throw new ProtocolViolation(
        'epoch',
        `${report.epoch} is past the trial's last epoch ${this.o.epochs - 1}`,
      );
    this.lastReported = report.epoch;
    this.next = report.epoch + 1;
    this.owed = 'reply-epoch';
    return { type: 'epoch', report };
  }

  private checkpoint(frame: Frame): CheckpointMessage {
    if (this.awaiting !== 'checkpoint')
      throw new ProtocolViolation('type', '"checkpoint" only right after a reply asking for one');
    const h = frame.header;
    if (h['epoch'] !== this.lastReported)
      throw new ProtocolViolation(
        'checkpoint.epoch',
        `${JSON.stringify(h['epoch'])}, expected ${this.lastReported}`,
      );
    const path = h['path'];
    if (path !== undefined) {
      if (typeof path !== 'string' || !isAbsolute(path))
        throw new ProtocolViolation('checkpoint.path', `${JSON.stringify(path)} is not an absolute path`);
      if (frame.payload.length > 0)
        throw new ProtocolViolation(
          'checkpoint.path',
          'send the bytes as the payload or in a file, not both',
        );
    }
    this.owed = 'reply-checkpoint';
    return {
      type: 'checkpoint',
      epoch: this.lastReported!,
      source: typeof path === 'string' ? { path } : { payload: frame.payload },
    };
  }

  private done(h: FrameHeader): Done {
    if (this.awaiting === 'checkpoint')
      throw new ProtocolViolation(
        'type',
        `"done" where the worker asked for a checkpoint of epoch ${this.lastReported}`,
      );
    const status = h['status'];
    if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status))
      throw new ProtocolViolation(
        'done.status',
        `${JSON.stringify(status)} is not one of ${STATUSES.join(', ')}`,
      );
    const reason = h['reason'];
    if (reason !== undefined && typeof reason !== 'string')
      throw new ProtocolViolation('done.reason', 'not a string');
    if (status === 'completed' && this.next !== this.o.epochs)
      throw new ProtocolViolation(
        'done.status',
        `"completed", but epoch ${this.next} of 0…${this.o.epochs - 1} is not reported yet`,
      );
    this.awaiting = 'nothing';
    return { type: 'done', status: status as DoneStatus, reason };
  }
}
