// The shape of a CLI command module, and argument parsing shared by all of them.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PhasesweepError } from '../spec/errors.js';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Aborted on SIGINT/SIGTERM: long-running commands drain and return. */
  signal: AbortSignal;
}

export interface Command {
  /** Full help text, printed for `--help`. */
  help: string;
  /** True when the command answers `--help` itself (commands with subcommands). */
  handlesHelp?: boolean;
  /** Resolves to the exit code (0 when omitted). */
  run(argv: string[], io: CommandIO): Promise<number | void>;
}

/** Exit codes (documented in README and `phasesweep --help`). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
  engine: 4,
  interrupted: 130,
} as const;

export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

export function usageError(message: string): ExitError {
  return new ExitError(EXIT.usage, message);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs with errors turned into usage errors that name the flag. */
export function parseFlags<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw usageError((err as Error).message);
  }
}

export function intFlag(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw usageError(`--${name}: expected an integer ≥ ${min}, got "${value}"`);
  return n;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof PhasesweepError) {
    switch (err.code) {
      case 'INVALID_ARGUMENT':
      case 'INVALID_SPEC':
      case 'NOT_FOUND':
        return EXIT.usage;
      case 'UNAVAILABLE':
      case 'UNAUTHENTICATED':
        return EXIT.unavailable;
      case 'ENGINE_UNAVAILABLE':
        return EXIT.engine;
      case 'ABORTED':
        return EXIT.interrupted;
      default:
        return EXIT.failure;
    }
  }
  return EXIT.failure;
}
