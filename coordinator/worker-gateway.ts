// The WorkerGateway service: one bidirectional stream per worker process. Translates stream
// messages into scheduler calls; every rule lives in the scheduler.
import { status, type Metadata, type ServerDuplexStream } from '@grpc/grpc-js';
import type { CoordinatorMessage, ProbeEvent, WorkerGatewayServer, WorkerMessage } from '../proto/index.js';
import type { Logger } from './logger.js';
import type { Scheduler, WorkerSession } from './scheduler.js';

export interface GatewayOptions {
  scheduler: Scheduler;
  heartbeatMs: number;
  coordinatorId: string;
  /** Probe events a worker streams here (embedded mode); awaited in order per stream. */
  onProbeEvents: (events: ProbeEvent[]) => Promise<void>;
  log: Logger;
  authorized: (metadata: Metadata) => boolean;
  /** Called after every message that may have changed state (persistence). */
  onChange: () => void;
}

export interface WorkerGateway {
  service: WorkerGatewayServer;
  /** Resolves once every probe event received so far is stored (and what waited on it is done). */
  drain(): Promise<void>;
}

export function createWorkerGateway(o: GatewayOptions): WorkerGateway {
  /** Each open stream's chain of writes, awaited by drain(). */
  const chains = new Set<Promise<void>>();
  const service: WorkerGatewayServer = {
    connect(call: ServerDuplexStream<WorkerMessage, CoordinatorMessage>) {
      if (!o.authorized(call.metadata)) {
        call.emit('error', { code: status.UNAUTHENTICATED, details: 'missing or wrong bearer token' });
        return;
      }
      let session: WorkerSession | undefined;
      // Probe batches are written in arrival order; the chain keeps them ordered per worker, and
      // whatever depends on earlier events being stored (checkpoints, results) waits in it.
      let writes: Promise<void> = Promise.resolve();
      const after = (step: () => Promise<void> | void) => {
        const next = writes.then(step).catch((err: unknown) => {
          o.log.error(`worker stream step failed: ${String(err)}`);
        });
        writes = next;
        chains.add(next);
        void next.then(() => chains.delete(next));
      };
      const send = (msg: CoordinatorMessage) => {
        if (!call.writableEnded && !call.destroyed) call.write(msg);
      };
      call.on('data', (msg: WorkerMessage) => {
        if (msg.hello !== undefined) {
          if (session !== undefined) o.scheduler.detach(session.workerId, session);
          const hello = msg.hello;
          session = {
            workerId: hello.worker_id,
            wanted: 0,
            send,
            eventsViaCoordinator: hello.event_sink !== 'nats',
            devices: hello.devices,
            trialsPerGpu: hello.trials_per_gpu || 1,
          };
          o.scheduler.attach(session);
          const devices = hello.devices.map((d) => `${d.kind}:${d.index}${d.name ? ` ${d.name}` : ''}`);
          o.log.info(
            `worker ${session.workerId} connected (slots ${hello.slots}, engines ${hello.engines.join(',')}` +
              (devices.length > 0
                ? `, devices ${devices.join(', ')}, ${session.trialsPerGpu} trials per GPU`
                : '') +
              ')',
          );
          send({ welcome: { coordinator_id: o.coordinatorId, heartbeat_ms: o.heartbeatMs } });
          return;
        }
        if (session === undefined) {
          // Emitting a status object is how grpc-js ends a server stream with an error status.
          call.emit('error', {
            code: status.INVALID_ARGUMENT,
            details: 'the first message on the stream must be hello',
          });
          return;
        }
        const workerId = session.workerId;
        o.onChange();
        if (msg.request !== undefined) o.scheduler.request(workerId, msg.request.count);
        else if (msg.heartbeat !== undefined) {
          const hb = msg.heartbeat;
          // Liveness is answered at once; a checkpoint is taken only after the events before it
          // on this stream are stored (streamed events), so it never covers a missing row.
          send({ heartbeat_reply: o.scheduler.heartbeat(workerId, hb) });
          const offer = () => {
            for (const p of hb.leases)
              if (p.checkpoint_ref && o.scheduler.offerCheckpoint(workerId, p)) o.onChange();
          };
          if (session.eventsViaCoordinator) after(offer);
          else offer();
        } else if (msg.events !== undefined) {
          const accepted = o.scheduler.acceptEvents(workerId, msg.events.events);
          const dropped = msg.events.events.length - accepted.length;
          if (dropped > 0)
            o.log.warn(
              `dropped ${dropped} events from ${workerId}: it holds no live lease for them, or they do not follow the ones before`,
            );
          if (accepted.length > 0) {
            after(() =>
              o.onProbeEvents(accepted).then(
                () => o.scheduler.eventsStored(accepted),
                (err: unknown) => {
                  o.log.error(`storing probe events failed: ${String(err)}`);
                  o.scheduler.eventsLost(accepted);
                  o.onChange();
                },
              ),
            );
          }
        } else if (msg.result !== undefined) {
          const r = msg.result;
          // Results wait for the trial's earlier events to be stored, so "completed" means stored.
          after(() => {
            if (!o.scheduler.result(workerId, r))
              o.log.warn(`rejected result for ${r.trial_id} from ${workerId}: stale lease token`);
            o.onChange();
          });
        }
      });
      const close = () => {
        if (session !== undefined) {
          o.log.info(`worker ${session.workerId} disconnected`);
          o.scheduler.detach(session.workerId, session);
          session = undefined; // 'end', 'error' and 'cancelled' can each arrive
        }
        if (!call.writableEnded) call.end();
      };
      call.on('end', close);
      call.on('error', close);
      call.on('cancelled', close);
    },
  };
  return {
    service,
    async drain() {
      while (chains.size > 0) await Promise.all([...chains]);
    },
  };
}
