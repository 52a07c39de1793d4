// A command trainer: the user's training command, started once per attempt and spoken to over
// the trainer protocol (docs/trainer-protocol.md). The worker computes every probe from the
// matrices it reports, and stores its checkpoints wrapped with the probe state they need.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineMetadata } from '../../../proto/index.js';
import { trialEpochs, type CommandTrainerConfig } from '../../../spec/index.js';
import type { Trainer, TrainerJob, TrainerOutcome } from '../trainer.js';
import { TrainerError } from '../trainer-error.js';
import { CommandSession } from './command-session.js';
import { decodeCommandCheckpoint } from './envelope.js';
import { trainerDevice, trainerEnv } from './environment.js';
import { OutputLog } from './output-log.js';
import { PROTOCOL_VERSION } from './protocol-violation.js';
import { TrainerProcess } from './trainer-process.js';

export interface CommandTrainerOptions {
  /** The environment the trainer's is built on (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Lines of output kept for a failed attempt's result. */
  tailLines?: number;
}

export class CommandTrainer implements Trainer {
  private meta: EngineMetadata;
  private readonly device: 'cpu' | 'cuda';

  constructor(
    private readonly trainer: CommandTrainerConfig,
    devices: readonly string[],
    private readonly o: CommandTrainerOptions = {},
  ) {
    this.device = trainerDevice(devices);
    this.meta = { engine: 'command', backend: this.device, simd: false, versions: {} };
  }

  metadata(): EngineMetadata {
    return this.meta;
  }

  async run(job: TrainerJob): Promise<TrainerOutcome> {
    const id = job.trial.trial_id;
    const resume = job.resumeFrom ? decodeCommandCheckpoint(job.resumeFrom) : undefined;
    if (resume) job.log.info(`trial ${id}: resuming after epoch ${resume.epoch}`);
    if (job.signal.aborted)
      return { status: 'aborted', epochs: resume ? resume.epoch + 1 : 0, reason: 'aborted' };
    const output = new OutputLog(`trial ${id} attempt ${job.attempt}`, job.log, this.o.tailLines);
    const workdir = await mkdtemp(join(tmpdir(), 'phasesweep-trainer-'));
    let proc: TrainerProcess | undefined;
    let outcome: TrainerOutcome | undefined;
    let failure: { error: unknown } | undefined;
    try {
      proc = await TrainerProcess.start({
        command: this.trainer.command,
        cwd: resolve(this.trainer.cwd ?? '.'),
        env: trainerEnv(this.o.env ?? process.env, {
          trainer: this.trainer,
          trialId: id,
          attempt: job.attempt,
          devices: job.devices,
          gpus: job.config.resources.gpu,
        }),
        output,
      });
      job.log.info(
        `trial ${id}: started ${JSON.stringify(this.trainer.command)} as process group ${proc.pid}`,
      );
      outcome = await new CommandSession({
        job,
        trainer: this.trainer,
        proc,
        output,
        resume,
        epochs: trialEpochs(job.config),
        device: this.device,
        workdir,
        onHello: (client, versions) => this.recordHello(client, versions),
      }).run();
    } catch (error) {
      failure = { error };
    }
    // Whatever path got here, the group is gone before the attempt ends.
    await proc?.finish();
    await rm(workdir, { recursive: true, force: true });
    if (failure !== undefined) {
      const err = failure.error;
      throw err instanceof TrainerError ? err.withLogTail(output.tail()) : err;
    }
    return outcome!;
  }

  private recordHello(client: string | undefined, versions: Record<string, string>): void {
    const all: Record<string, string> = { ...versions, protocol: String(PROTOCOL_VERSION) };
    if (client !== undefined) {
      // "name/version", as in a user agent; anything else is recorded whole.
      const m = /^(.+)\/([^/]+)$/.exec(client);
      if (m) all[m[1]!] = m[2]!;
      else all['client'] = client;
    }
    this.meta = { ...this.meta, versions: all };
  }
}
