// The SweepService the CLI talks to: submit, inspect, list, cancel and retry sweeps.
import { status, type Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { SweepServiceServer } from '../proto/index.js';
import { expandSweep, parseSweepYaml, PhasesweepError } from '../spec/index.js';
import { toServiceError } from './grpc-errors.js';
import type { Scheduler } from './scheduler.js';
import { sweepStatus } from './status.js';

export interface SweepServiceOptions {
  scheduler: Scheduler;
  authorized: (metadata: Metadata) => boolean;
  /** Called after every request that may have changed state (persistence). */
  onChange: () => void;
}

export function createSweepService(o: SweepServiceOptions): SweepServiceServer {
  const { scheduler } = o;
  function unary<Req, Res>(fn: (req: Req) => Res) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      if (!o.authorized(call.metadata)) {
        callback({ code: status.UNAUTHENTICATED, details: 'missing or wrong bearer token' }, null);
        return;
      }
      try {
        callback(null, fn(call.request));
        o.onChange();
      } catch (err) {
        callback(toServiceError(err), null);
      }
    };
  }
  const sweep = (id: string) => {
    const s = scheduler.registry.get(id);
    if (s === undefined) throw new PhasesweepError('NOT_FOUND', `no sweep "${id}"`);
    return s;
  };
  return {
    submitSweep: unary((req) => {
      const spec = parseSweepYaml(req.spec_text, req.source_name || 'spec');
      const r = scheduler.submit(spec, expandSweep(spec));
      return { sweep_id: r.sweepId, trials_total: r.total, trials_added: r.added };
    }),
    getSweep: unary((req) => sweepStatus(scheduler, sweep(req.sweep_id), true)),
    listSweeps: unary(() => ({
      sweeps: scheduler.registry.list().map((s) => sweepStatus(scheduler, s, false)),
    })),
    cancelSweep: unary((req) => ({ cancelled: scheduler.cancel(sweep(req.sweep_id).sweepId) })),
    retrySweep: unary((req) => ({ retried: scheduler.retry(sweep(req.sweep_id).sweepId) })),
  };
}
