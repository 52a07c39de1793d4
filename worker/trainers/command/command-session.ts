// One conversation with a running command trainer, from hello to done: each report's probes
// and event, periodic checkpoints, stops (a hand-over finishes the epoch and checkpoints within
// the grace; a cancel or lost lease stops at once), the hang timeout, and every way it can go
// wrong, as TrainerErrors naming the trial and epoch.
import { readFile, rm } from 'node:fs/promises';
import { sep } from 'node:path';
import type { CommandTrainerConfig } from '../../../spec/index.js';
import type { TrainerJob, TrainerOutcome } from '../trainer.js';
import { TrainerError, type TrainerFailure } from '../trainer-error.js';
import { Conversation, type CheckpointMessage, type Done, type ReplyAction } from './conversation.js';
import { encodeCommandCheckpoint, type CommandCheckpoint } from './envelope.js';
import type { EpochReport } from './epoch-report.js';
import { FrameChannel } from './frame-channel.js';
import type { Frame } from './frame-codec.js';
import type { OutputLog } from './output-log.js';
import { ProbeTracker } from './probe-tracker.js';
import { PROTOCOL_VERSION, ProtocolViolation, UnsupportedProtocol } from './protocol-violation.js';
import { describeExit, type TrainerProcess } from './trainer-process.js';

export interface SessionOptions {
  job: TrainerJob;
  trainer: CommandTrainerConfig;
  proc: TrainerProcess;
  output: OutputLog;
  resume: CommandCheckpoint | undefined;
  /** The trial's epoch count (early stopping applied). */
  epochs: number;
  device: 'cpu' | 'cuda';
  workdir: string;
  onHello(client: string | undefined, versions: Record<string, string>): void;
}

/** The outcome, or undefined to go on. */
type Step = TrainerOutcome | undefined;

export class CommandSession {
  private readonly conv: Conversation;
  private readonly tracker: ProbeTracker;
  private readonly channel: FrameChannel;
  private readonly graceMs: number;
  /** The signal fired and was looked at. */
  private abortSeen = false;
  /** Handing over: the trainer's next frame is due by this time (performance.now ms). */
  private handOverBy: number | null = null;

  constructor(private readonly o: SessionOptions) {
    this.conv = new Conversation({ firstEpoch: o.resume ? o.resume.epoch + 1 : 0, epochs: o.epochs });
    this.tracker = new ProbeTracker(o.resume?.probes);
    this.channel = new FrameChannel(o.proc.channel);
    this.graceMs = o.trainer.stop_grace_s * 1000;
  }

  async run(): Promise<TrainerOutcome> {
    for (;;) {
      const wait =
        this.handOverBy !== null ? this.handOverBy - performance.now() : this.o.trainer.timeout_s * 1000;
      const w = await this.channel.next(wait, this.abortSeen ? undefined : this.o.job.signal);
      let step: Step;
      switch (w.kind) {
        case 'abort':
          await this.lookAtAbort();
          if (this.handOverBy === null || this.conv.expecting === 'hello') return this.stopNow();
          break;
        case 'timeout':
          if (this.handOverBy !== null) return this.stopNow();
          await this.o.proc.terminate(this.graceMs);
          throw this.fail(
            'hung',
            `no frame from the trainer for ${this.o.trainer.timeout_s} s: killed as hung`,
          );
        case 'bad':
          throw await this.violation(w.violation);
        case 'eof':
          throw await this.ended(w.partial);
        case 'frame':
          try {
            step = await this.onFrame(w.frame, w.sentBefore);
          } catch (err) {
            if (err instanceof ProtocolViolation) throw await this.violation(err);
            if (err instanceof UnsupportedProtocol) {
              await this.o.proc.terminate(this.graceMs);
              throw this.fail('unsupported_version', err.message, err);
            }
            throw err;
          }
          if (step !== undefined) return step;
      }
    }
  }

  private async onFrame(frame: Frame, sentBefore: number): Promise<Step> {
    const msg = this.conv.receive(frame, sentBefore);
    switch (msg.type) {
      case 'hello':
        this.o.onHello(msg.client, msg.versions);
        this.sendStart();
        return undefined;
      case 'epoch':
        return this.onReport(msg.report);
      case 'checkpoint':
        return this.onCheckpoint(msg);
      case 'done':
        return this.onDone(msg);
    }
  }

  private sendStart(): void {
    const { job, resume } = this.o;
    const config = job.config;
    this.channel.send(
      {
        type: 'start',
        protocol: PROTOCOL_VERSION,
        sweep_id: job.trial.sweep_id,
        trial_id: job.trial.trial_id,
        attempt: job.attempt,
        seed: job.trial.seed,
        config,
        params: config.params,
        device: this.o.device,
        epochs: this.o.epochs,
        first_epoch: this.conv.next,
        probes: { noise_scale: config.probes.noise_scale, probe_set: config.probes.probe_set },
        checkpoint: resume ? { epoch: resume.epoch } : null,
        workdir: this.o.workdir,
      },
      resume?.trainer,
    );
    this.conv.started();
  }

  private async onReport(report: EpochReport): Promise<Step> {
    const { job, epochs } = this.o;
    const e = report.epoch;
    const withEvent = e % job.config.probes.every === 0 || e === epochs - 1;
    this.tracker.check(report); // a bad report is refused before it is answered
    if (job.signal.aborted && !this.abortSeen) await this.lookAtAbort();
    let action: ReplyAction;
    if (this.abortSeen && this.handOverBy === null) action = 'stop';
    else if (this.handOverBy !== null) {
      // Handing over: the checkpoint of this epoch, or, after the last epoch, done.
      action = e === epochs - 1 ? 'continue' : job.checkpointOnAbort ? 'checkpoint' : 'stop';
      this.handOverBy = performance.now() + this.graceMs;
    } else {
      const every = job.checkpointEvery;
      action = every !== undefined && (e + 1) % every === 0 && e < epochs - 1 ? 'checkpoint' : 'continue';
    }
    // The answer goes first: the trainer trains its next epoch while this one's probes are
    // computed and published. Frames are handled one at a time, so its next report (or the
    // checkpoint just asked for) is read only after this event has left.
    const step = this.reply(action);
    const { probes, scalars } = this.tracker.observe(report, withEvent);
    if (withEvent) await job.onEpoch({ epoch: e, probes, scalars });
    return step;
  }

  private async onCheckpoint(msg: CheckpointMessage): Promise<Step> {
    const { job, workdir } = this.o;
    let trainerBytes: Uint8Array;
    if ('path' in msg.source) {
      const path = msg.source.path;
      try {
        trainerBytes = await readFile(path);
      } catch (err) {
        throw new ProtocolViolation('checkpoint.path', `cannot read ${path}: ${(err as Error).message}`);
      }
      if (path.startsWith(workdir + sep)) await rm(path, { force: true });
    } else {
      trainerBytes = msg.source.payload;
    }
    const bytes = encodeCommandCheckpoint({
      epoch: msg.epoch,
      trainer: trainerBytes,
      probes: this.tracker.state(),
    });
    await job.onCheckpoint({ epoch: msg.epoch, bytes });
    if (job.signal.aborted && !this.abortSeen) await this.lookAtAbort();
    return this.reply(this.abortSeen ? 'stop' : 'continue');
  }

  private reply(action: ReplyAction): Promise<Step> {
    const reason = action === 'stop' ? (this.handOverBy !== null ? 'shutdown' : undefined) : undefined;
    this.channel.send(this.conv.reply(action, reason));
    return action === 'stop' ? this.stopped() : Promise.resolve(undefined);
  }

  private async onDone(msg: Done): Promise<Step> {
    const status = await this.o.proc.waitExit(Math.max(this.graceMs, 1000));
    if (status === undefined) {
      this.o.job.log.warn(`trial ${this.o.job.trial.trial_id}: trainer still running after done; killing it`);
      await this.o.proc.terminate(this.graceMs);
    } else if (status.code !== 0) {
      this.o.job.log.warn(`trial ${this.o.job.trial.trial_id}: trainer ${describeExit(status)} after done`);
    }
    const epochs = this.conv.next;
    if (msg.status === 'failed')
      throw this.fail('failed', `the trainer failed: ${msg.reason ?? 'no reason given'}`);
    if (msg.status === 'diverged')
      return { status: 'diverged', epochs, reason: msg.reason ?? `diverged at epoch ${epochs}` };
    return { status: 'completed', epochs, reason: msg.reason };
  }

  /** Decides, once, how to stop: hand over (finish the epoch, checkpoint) or stop at once. */
  private async lookAtAbort(): Promise<void> {
    this.abortSeen = true;
    if (await this.o.job.handOver()) this.handOverBy = performance.now() + this.graceMs;
  }

  /** Told to stop: it exits within the grace, or is made to. */
  private async stopped(): Promise<TrainerOutcome> {
    if ((await this.o.proc.waitExit(this.graceMs)) === undefined) await this.o.proc.terminate(this.graceMs);
    return this.aborted();
  }

  /** Cannot wait for its next report: SIGTERM, grace, SIGKILL. */
  private async stopNow(): Promise<TrainerOutcome> {
    await this.o.proc.terminate(this.graceMs);
    return this.aborted();
  }

  private aborted(): TrainerOutcome {
    return { status: 'aborted', epochs: this.conv.next, reason: 'aborted' };
  }

  /** The channel closed before done: the trainer crashed (or closed it and was killed). */
  private async ended(partial: boolean): Promise<TrainerError> {
    const { proc } = this.o;
    let status = await proc.waitExit(Math.max(this.graceMs, 1000));
    let what: string;
    if (status === undefined) {
      status = await proc.terminate(this.graceMs);
      what = 'closed the protocol channel and kept running; killed';
    } else {
      what = describeExit(status);
    }
    const mid = partial ? ' in the middle of a frame' : '';
    const last = this.o.output.lastLine();
    return this.fail(
      'crashed',
      `the trainer ${what} before done${mid}${last ? ` (last output: ${last.slice(0, 200)})` : ''}`,
    );
  }

  private async violation(v: ProtocolViolation): Promise<TrainerError> {
    await this.o.proc.terminate(this.graceMs);
    return this.fail('protocol', v.message, v);
  }

  private fail(failure: TrainerFailure, text: string, cause?: unknown): TrainerError {
    return new TrainerError(failure, `trial ${this.o.job.trial.trial_id} epoch ${this.conv.epoch}: ${text}`, {
      cause,
    });
  }
}
