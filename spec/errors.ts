// The project's error vocabulary: one base class with a literal-union code, causes passed through.
// Entry points map codes to exit codes (CLI) and status codes (gRPC) in one place each.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_SPEC'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'FAILED_PRECONDITION'
  | 'ENGINE_UNAVAILABLE'
  | 'ABORTED'
  | 'INTERNAL';

export class PhasesweepError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'PhasesweepError';
  }
}

/** A problem at a path inside a document: rendered as `file: path: message`. */
export interface Issue {
  path: string;
  message: string;
}

export class SpecError extends PhasesweepError {
  readonly issues: readonly Issue[];
  readonly source: string;
  constructor(source: string, issues: readonly Issue[]) {
    super('INVALID_SPEC', issues.map((i) => `${source}: ${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.issues = issues;
    this.source = source;
    this.name = 'SpecError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
