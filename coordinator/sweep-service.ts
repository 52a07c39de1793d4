// The SweepService the CLI talks to: submit, inspect and list sweeps.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type {
  GetSweepRequest,
  ListSweepsRequest,
  ListSweepsResponse,
  SubmitSweepRequest,
  SubmitSweepResponse,
  SweepServiceServer,
  SweepStatus,
} from '../proto/index.js';
import { expandSweep, parseSweepYaml, PhasesweepError } from '../spec/index.js';
import { toServiceError } from './grpc-errors.js';
import type { Scheduler } from './scheduler.js';
import { sweepStatus } from './status.js';

function unary<Req, Res>(fn: (req: Req) => Res) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    try {
      callback(null, fn(call.request));
    } catch (err) {
      callback(toServiceError(err), null);
    }
  };
}

export function createSweepService(scheduler: Scheduler): SweepServiceServer {
  return {
    submitSweep: unary<SubmitSweepRequest, SubmitSweepResponse>((req) => {
      const spec = parseSweepYaml(req.spec_text, req.source_name || 'spec');
      const r = scheduler.submit(spec, expandSweep(spec));
      return { sweep_id: r.sweepId, trials_total: r.total, trials_added: r.added };
    }),
    getSweep: unary<GetSweepRequest, SweepStatus>((req) => {
      const sweep = scheduler.registry.get(req.sweep_id);
      if (sweep === undefined) throw new PhasesweepError('NOT_FOUND', `no sweep "${req.sweep_id}"`);
      return sweepStatus(scheduler.registry, sweep, true);
    }),
    listSweeps: unary<ListSweepsRequest, ListSweepsResponse>(() => ({
      sweeps: scheduler.registry.list().map((s) => sweepStatus(scheduler.registry, s, false)),
    })),
  };
}
