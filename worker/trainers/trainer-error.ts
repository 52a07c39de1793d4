// Why a trainer failed an attempt, with what it printed last. Permanent failures (the command
// cannot run, a protocol version no worker speaks) fail the trial without retries.
import { PhasesweepError, type ErrorCode } from '../../spec/index.js';

export type TrainerFailure =
  /** The command is not found or not executable, or its cwd does not exist. */
  | 'not_found'
  /** hello named a protocol version this worker does not speak. */
  | 'unsupported_version'
  /** A malformed frame, a field with a wrong value, or a frame out of turn. */
  | 'protocol'
  /** The trainer exited or was killed before `done`. */
  | 'crashed'
  /** No frame for `trainer.timeout_s`. */
  | 'hung'
  /** `done` with status failed: the trainer's own error. */
  | 'failed';

const CODES: Record<TrainerFailure, ErrorCode> = {
  not_found: 'NOT_FOUND',
  unsupported_version: 'FAILED_PRECONDITION',
  protocol: 'INVALID_ARGUMENT',
  crashed: 'INTERNAL',
  hung: 'INTERNAL',
  failed: 'INTERNAL',
};

const PERMANENT: ReadonlySet<TrainerFailure> = new Set(['not_found', 'unsupported_version']);

export class TrainerError extends PhasesweepError {
  readonly failure: TrainerFailure;
  /** The same failure would happen on any worker: the trial fails without retries. */
  readonly permanent: boolean;
  /** The last lines of the trainer's stdout and stderr. */
  readonly logTail: string;

  constructor(failure: TrainerFailure, message: string, options: { cause?: unknown; logTail?: string } = {}) {
    super(CODES[failure], message, { cause: options.cause });
    this.name = 'TrainerError';
    this.failure = failure;
    this.permanent = PERMANENT.has(failure);
    this.logTail = options.logTail ?? '';
  }

  /** The same failure, with the output's last lines (known only once the output has ended). */
  withLogTail(logTail: string): TrainerError {
    return new TrainerError(this.failure, this.message, { cause: this.cause, logTail });
  }
}
