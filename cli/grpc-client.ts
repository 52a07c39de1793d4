// Promise wrappers over the SweepService client, with unreachable coordinators reported as such.
import { credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  SweepServiceClient,
  type ListSweepsResponse,
  type SubmitSweepResponse,
  type SweepStatus,
} from '../proto/index.js';
import { PhasesweepError } from '../spec/index.js';

export const DEFAULT_COORDINATOR = process.env['PHASESWEEP_COORDINATOR'] ?? '127.0.0.1:7070';

function fromServiceError(address: string, err: ServiceError): PhasesweepError {
  switch (err.code) {
    case grpcStatus.UNAVAILABLE:
    case grpcStatus.DEADLINE_EXCEEDED:
      return new PhasesweepError('UNAVAILABLE', `coordinator ${address} is unreachable: ${err.details}`, {
        cause: err,
      });
    case grpcStatus.INVALID_ARGUMENT:
      return new PhasesweepError('INVALID_SPEC', err.details, { cause: err });
    case grpcStatus.NOT_FOUND:
      return new PhasesweepError('NOT_FOUND', err.details, { cause: err });
    case grpcStatus.UNAUTHENTICATED:
      return new PhasesweepError('UNAUTHENTICATED', err.details, { cause: err });
    default:
      return new PhasesweepError('INTERNAL', `coordinator ${address}: ${err.details}`, { cause: err });
  }
}

export class SweepClient {
  private readonly client: SweepServiceClient;
  constructor(private readonly address: string) {
    this.client = new SweepServiceClient(address, credentials.createInsecure());
  }

  private options() {
    return { deadline: new Date(Date.now() + 10_000) };
  }

  private done<Res>(resolve: (r: Res) => void, reject: (e: Error) => void) {
    return (err: ServiceError | null, res: Res) =>
      err ? reject(fromServiceError(this.address, err)) : resolve(res);
  }

  submit(specText: string, sourceName: string): Promise<SubmitSweepResponse> {
    return new Promise((resolve, reject) =>
      this.client.submitSweep(
        { spec_text: specText, source_name: sourceName },
        new Metadata(),
        this.options(),
        this.done(resolve, reject),
      ),
    );
  }

  get(sweepId: string): Promise<SweepStatus> {
    return new Promise((resolve, reject) =>
      this.client.getSweep({ sweep_id: sweepId }, new Metadata(), this.options(), this.done(resolve, reject)),
    );
  }

  list(): Promise<ListSweepsResponse> {
    return new Promise((resolve, reject) =>
      this.client.listSweeps({}, new Metadata(), this.options(), this.done(resolve, reject)),
    );
  }

  close(): void {
    this.client.close();
  }
}
