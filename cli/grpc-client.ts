// Promise wrappers over the SweepService client, with unreachable coordinators reported as such.
import { credentials, Metadata, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Connection } from './connection-flags.js';
import {
  SweepServiceClient,
  type CancelSweepResponse,
  type RetrySweepResponse,
  type ListSweepsResponse,
  type SubmitSweepResponse,
  type SweepStatus,
} from '../proto/index.js';
import { PhasesweepError } from '../spec/index.js';

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
  private readonly address: string;
  private readonly token: string | undefined;
  constructor(c: Connection) {
    this.address = c.address;
    this.token = c.token;
    this.client = new SweepServiceClient(
      c.address,
      c.tlsCa ? credentials.createSsl(c.tlsCa) : credentials.createInsecure(),
    );
  }

  private metadata(): Metadata {
    const m = new Metadata();
    if (this.token) m.set('authorization', `Bearer ${this.token}`);
    return m;
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
        this.metadata(),
        this.options(),
        this.done(resolve, reject),
      ),
    );
  }

  get(sweepId: string): Promise<SweepStatus> {
    return new Promise((resolve, reject) =>
      this.client.getSweep(
        { sweep_id: sweepId },
        this.metadata(),
        this.options(),
        this.done(resolve, reject),
      ),
    );
  }

  list(): Promise<ListSweepsResponse> {
    return new Promise((resolve, reject) =>
      this.client.listSweeps({}, this.metadata(), this.options(), this.done(resolve, reject)),
    );
  }

  cancel(sweepId: string): Promise<CancelSweepResponse> {
    return new Promise((resolve, reject) =>
      this.client.cancelSweep(
        { sweep_id: sweepId },
        this.metadata(),
        this.options(),
        this.done(resolve, reject),
      ),
    );
  }

  retry(sweepId: string): Promise<RetrySweepResponse> {
    return new Promise((resolve, reject) =>
      this.client.retrySweep(
        { sweep_id: sweepId },
        this.metadata(),
        this.options(),
        this.done(resolve, reject),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}
