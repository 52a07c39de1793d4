// A trainer broke the protocol: which field, and what was wrong with it. Raised by the pure
// protocol code, which knows no trial; the command trainer adds "trial T epoch E: " in front.
import { PhasesweepError } from '../../../spec/index.js';

export class ProtocolViolation extends PhasesweepError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super('INVALID_ARGUMENT', `${field}: ${detail}`);
    this.name = 'ProtocolViolation';
  }
}

/** hello asked for a protocol version this worker does not speak. */
export class UnsupportedProtocol extends PhasesweepError {
  constructor(readonly version: unknown) {
    super(
      'FAILED_PRECONDITION',
      `hello.protocol: unknown protocol version ${JSON.stringify(version)}; this worker speaks ${PROTOCOL_VERSION}`,
    );
    this.name = 'UnsupportedProtocol';
  }
}

export const PROTOCOL_VERSION = 1;
