// Scheduler benchmark: simulated workers with no-op trials against a real coordinator over
// loopback gRPC (durable state in a journal file). Prints JSON:
//   leases_per_s, lease_p50_ms, lease_p99_ms   1,000 workers taking and finishing no-op trials
//   detect_dead_s, heartbeat_s                 a worker that dies silently, until its trial is re-leased
//   overhead_pct_1s_trials                     wall time over the ideal for 1-second trials
// Usage: node dist/bench/scheduler.js [--workers 1000] [--trials 20000] [--ttl-ms 3000]
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Coordinator, FileStateStore, silentLogger } from '../coordinator/index.js';
import {
  TrialOutcome,
  WorkerGatewayClient,
  type CoordinatorMessage,
  type Lease,
  type WorkerMessage,
} from '../proto/index.js';
import { expandSweep, parseSweepYaml } from '../spec/index.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1000' },
    trials: { type: 'string', default: '20000' },
    'ttl-ms': { type: 'string', default: '3000' },
    'overhead-workers': { type: 'string', default: '100' },
    'overhead-trials': { type: 'string', default: '1000' },
  },
});
const WORKERS = Number(values.workers);
const TRIALS = Number(values.trials);
const TTL = Number(values['ttl-ms']);

type Stream = ClientDuplexStream<WorkerMessage, CoordinatorMessage>;

interface SimOptions {
  id: string;
  client: WorkerGatewayClient;
  /** Called with each lease; resolves when the simulated trial is over. */
  onLease: (lease: Lease, stream: Stream) => Promise<TrialOutcome | 'die'>;
  onRequest?: () => void;
}

/**
 * A worker that speaks the real protocol but trains nothing: one trial at a time, with the
 * agent's lease accounting (`prefetch` leases held ready beside the running one).
 */
function simulatedWorker(o: SimOptions & { prefetch?: number }): { stream: Stream; heartbeats: () => void } {
  const stream = o.client.connect();
  const prefetch = o.prefetch ?? 0;
  let current: Lease | undefined;
  const queued: Lease[] = [];
  let outstanding = 0;
  const requestMore = () => {
    const want = 1 + prefetch - (current ? 1 : 0) - queued.length - outstanding;
    if (want <= 0) return;
    outstanding += want;
    o.onRequest?.();
    stream.write({ request: { count: outstanding } });
  };
  const start = (lease: Lease) => {
    current = lease;
    void o.onLease(lease, stream).then((outcome) => {
      current = undefined;
      if (outcome === 'die') {
        stream.cancel();
        return;
      }
      stream.write({
        result: {
          trial_id: lease.trial!.trial_id,
          token: lease.token,
          outcome,
          epochs: 1,
          reason: '',
          log_tail: '',
          permanent: false,
        },
      });
      const next = queued.shift();
      if (next) start(next);
      requestMore();
    });
  };
  stream.on('data', (msg: CoordinatorMessage) => {
    if (msg.welcome) requestMore();
    if (msg.lease) {
      outstanding = Math.max(0, outstanding - 1);
      if (current) queued.push(msg.lease);
      else start(msg.lease);
      requestMore();
    }
  });
  stream.on('error', () => undefined);
  stream.write({
    hello: {
      worker_id: o.id,
      slots: 1,
      engines: ['sim'],
      version: '1',
      event_sink: 'coordinator',
      devices: [],
      trials_per_gpu: 1,
    },
  });
  return {
    stream,
    heartbeats: () => {
      const held = [...(current ? [current] : []), ...queued];
      if (held.length > 0) {
        stream.write({
          heartbeat: {
            leases: held.map((l) => ({
              trial_id: l.trial!.trial_id,
              token: l.token,
              epoch: 0,
              checkpoint_ref: '',
              checkpoint_epochs: 0,
            })),
          },
        });
      }
    },
  };
}

function spec(name: string, seeds: number, priority = 0) {
  const s = parseSweepYaml(
    `name: ${name}\nseeds: ${seeds}\npriority: ${priority}\nbase: { train: { epochs: 1 } }`,
  );
  return { s, planned: expandSweep(s) };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function clients(address: string, n: number): WorkerGatewayClient[] {
  // A channel carries at most ~100 streams, as separate worker hosts would.
  return Array.from(
    { length: Math.ceil(n / 100) },
    () => new WorkerGatewayClient(address, credentials.createInsecure()),
  );
}

async function throughput(coordinator: Coordinator) {
  const { s, planned } = spec('throughput', TRIALS);
  const cs = clients(coordinator.address, WORKERS);
  const latencies: number[] = [];
  const requestedAt = new Map<string, number>();
  let connected = 0;
  let started = 0;
  const sims = Array.from({ length: WORKERS }, (_, i) => {
    const id = `sim-${i}`;
    return simulatedWorker({
      id,
      client: cs[Math.floor(i / 100)]!,
      onRequest: () => {
        if (!requestedAt.has(id)) connected++;
        requestedAt.set(id, performance.now());
      },
      onLease: () => {
        latencies.push(performance.now() - (requestedAt.get(id) ?? performance.now()));
        return Promise.resolve(TrialOutcome.TRIAL_OUTCOME_COMPLETED);
      },
    });
  });
  while (connected < WORKERS) await new Promise((r) => setTimeout(r, 20));
  const workersConnected = coordinator.scheduler.workers;
  latencies.length = 0;
  started = performance.now();
  coordinator.scheduler.submit(s, planned);
  while (!coordinator.scheduler.registry.isDone('throughput')) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  for (const sim of sims) sim.stream.cancel();
  for (const c of cs) c.close();
  latencies.sort((a, b) => a - b);
  return {
    workers: workersConnected,
    trials: TRIALS,
    leases_per_s: Math.round(TRIALS / seconds),
    lease_p50_ms: +percentile(latencies, 0.5).toFixed(2),
    lease_p99_ms: +percentile(latencies, 0.99).toFixed(2),
  };
}

async function detectDead(coordinator: Coordinator, retryingAt: Map<string, number>) {
  const { s, planned } = spec('dead', 1, 10);
  while (coordinator.scheduler.workers > 0) await new Promise((r) => setTimeout(r, 5)); // earlier sims gone
  const [client] = clients(coordinator.address, 1);
  let requested = false;
  let diedAt = 0;
  let trialId = '';
  const sim = simulatedWorker({
    id: 'doomed',
    client: client!,
    onRequest: () => void (requested = true),
    onLease: async (lease) => {
      trialId = lease.trial!.trial_id;
      // Heartbeat a few times, then die without a word (as a SIGKILLed process would, minus the socket).
      for (let i = 0; i < 3; i++) {
        sim.heartbeats();
        await new Promise((r) => setTimeout(r, coordinator.heartbeatMs));
      }
      sim.heartbeats();
      diedAt = performance.now();
      return new Promise<never>(() => undefined); // never answers again
    },
  });
  while (!requested) await new Promise((r) => setTimeout(r, 5));
  coordinator.scheduler.submit(s, planned);
  while (!retryingAt.has(trialId)) await new Promise((r) => setTimeout(r, 5));
  const detect = (retryingAt.get(trialId)! - diedAt) / 1000;
  coordinator.scheduler.cancel('dead');
  sim.stream.cancel();
  client!.close();
  return { detect_dead_s: +detect.toFixed(3), heartbeat_s: coordinator.heartbeatMs / 1000 };
}

async function overhead(coordinator: Coordinator) {
  const workers = Number(values['overhead-workers']);
  const trials = Number(values['overhead-trials']);
  const { s, planned } = spec('overhead', trials, 20);
  const cs = clients(coordinator.address, workers);
  let ready = 0;
  const sims = Array.from({ length: workers }, (_, i) => {
    const sim: ReturnType<typeof simulatedWorker> = simulatedWorker({
      id: `ovh-${i}`,
      client: cs[Math.floor(i / 100)]!,
      prefetch: 1, // what the agent does while trials take under 30 s
      onRequest: () => void ready++,
      onLease: async () => {
        const hb = setInterval(() => sim.heartbeats(), coordinator.heartbeatMs);
        await new Promise((r) => setTimeout(r, 1000));
        clearInterval(hb);
        return TrialOutcome.TRIAL_OUTCOME_COMPLETED;
      },
    });
    return sim;
  });
  while (ready < workers) await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  coordinator.scheduler.submit(s, planned);
  while (!coordinator.scheduler.registry.isDone('overhead')) await new Promise((r) => setTimeout(r, 5));
  const wall = (performance.now() - t0) / 1000;
  const ideal = Math.ceil(trials / workers) * 1.0;
  for (const sim of sims) sim.stream.end();
  for (const c of cs) c.close();
  return {
    overhead_pct_1s_trials: +(((wall - ideal) / ideal) * 100).toFixed(2),
    overhead_trials: trials,
    overhead_workers: workers,
  };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'phasesweep-bench-'));
  const retryingAt = new Map<string, number>();
  const coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    leaseTtlMs: TTL,
    log: silentLogger,
    stateStore: new FileStateStore(join(dir, 'state.jsonl')),
    onTrialEvent: (e) => {
      if (e.status === 'retrying' && e.sweep_id === 'dead') retryingAt.set(e.trial_id, performance.now());
    },
  });
  void coordinator.run();
  const result = {
    ...(await throughput(coordinator)),
    ...(await detectDead(coordinator, retryingAt)),
    ...(await overhead(coordinator)),
    state_store: 'journal file',
  };
  await coordinator.shutdown(1000);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scheduler: ${String(err)}\n`);
  process.exit(1);
});
