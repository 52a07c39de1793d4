// The one map from project errors to gRPC status codes.
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { PhasesweepError } from '../spec/index.js';

export function toServiceError(err: unknown): Partial<ServiceError> {
  const message = err instanceof Error ? err.message : String(err);
  let code = status.INTERNAL;
  if (err instanceof PhasesweepError) {
    code = {
      INVALID_ARGUMENT: status.INVALID_ARGUMENT,
      INVALID_SPEC: status.INVALID_ARGUMENT,
      NOT_FOUND: status.NOT_FOUND,
      UNAVAILABLE: status.UNAVAILABLE,
      UNAUTHENTICATED: status.UNAUTHENTICATED,
      FAILED_PRECONDITION: status.FAILED_PRECONDITION,
      ENGINE_UNAVAILABLE: status.FAILED_PRECONDITION,
      ABORTED: status.ABORTED,
      INTERNAL: status.INTERNAL,
    }[err.code];
  }
  return { code, details: message, message, metadata: new Metadata() };
}
