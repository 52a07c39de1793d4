// The cluster under test: the run's own nats-server and clickhouse-server, a coordinator (state
// in JetStream KV) on a fixed port, ingesters and workers — one worker inside the network
// namespace when there is one — all real processes of the built CLI, kept up by a Supervisor.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SweepClient } from '../cli/grpc-client.js';
import type { SweepStatus } from '../proto/index.js';
import type { NetworkNamespace } from './netns.js';
import { CLI, ManagedProcess, type ProcessContext } from './processes.js';
import { ClickHouseServer, freePort, NatsServer, sleep, waitHttp } from './servers.js';
import { Supervisor, type Member } from './supervisor.js';

export interface ClusterOptions {
  ctx: ProcessContext;
  dir: string;
  workers: number;
  ingesters: number;
  /** Where the partitioned worker runs; undefined: every worker on the host. */
  netns: NetworkNamespace | undefined;
  leaseTtlMs: number;
  checkpointEvery: number;
  log: (line: string) => void;
}

/** The worker that runs inside the network namespace. */
export const NETNS_WORKER = 'worker-0';

export class ChaosCluster {
  readonly prefix: string;
  readonly database: string;
  readonly supervisor: Supervisor;
  readonly nats: NatsServer;
  readonly clickhouse: ClickHouseServer;
  readonly coordinatorAddress: string;
  readonly metricsUrl: string;
  readonly workerNames: string[];
  readonly ingesterNames: string[];

  private constructor(
    private readonly o: ClusterOptions,
    nats: NatsServer,
    clickhouse: ClickHouseServer,
    coordinatorAddress: string,
    httpPort: number,
  ) {
    this.prefix = `chaos${o.ctx.runId}`;
    this.database = `chaos_${o.ctx.runId}`;
    this.nats = nats;
    this.clickhouse = clickhouse;
    this.coordinatorAddress = coordinatorAddress;
    this.metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    this.supervisor = new Supervisor(o.log);
    this.workerNames = Array.from({ length: o.workers }, (_, i) => `worker-${i}`);
    this.ingesterNames = Array.from({ length: o.ingesters }, (_, i) => `ingester-${i}`);

    const server = (s: NatsServer | ClickHouseServer): Member => ({ proc: s.proc, start: () => s.start() });
    this.supervisor.add(server(nats));
    this.supervisor.add(server(clickhouse));
    this.supervisor.add(
      this.cli(
        'coordinator',
        [
          'coordinator',
          '--listen',
          coordinatorAddress,
          '--nats',
          nats.url,
          '--prefix',
          this.prefix,
          '--lease-ttl-ms',
          String(o.leaseTtlMs),
          // Faults, not trials, end these attempts: never let them use up a trial's retries.
          '--max-failures',
          '1000000',
          '--http',
          `127.0.0.1:${httpPort}`,
        ],
        /coordinator listening on/,
      ),
    );
    for (const name of this.ingesterNames) {
      this.supervisor.add(
        this.cli(
          name,
          [
            'ingest',
            '--nats',
            nats.url,
            '--clickhouse',
            clickhouse.url,
            '--database',
            this.database,
            '--prefix',
            this.prefix,
            '--http',
            'off',
          ],
          /ingester: INITIALIZED → RUNNING/,
        ),
      );
    }
    const checkpoints = join(o.dir, 'checkpoints');
    mkdirSync(checkpoints, { recursive: true });
    for (const name of this.workerNames) {
      const args = [
        'worker',
        '--coordinator',
        coordinatorAddress,
        '--engine',
        'wasm',
        '--nats',
        nats.url,
        '--prefix',
        this.prefix,
        '--checkpoint-dir',
        checkpoints,
        '--checkpoint-every',
        String(o.checkpointEvery),
        '--id',
        name,
      ];
      this.supervisor.add(this.cli(name, args, /created → running/, name === NETNS_WORKER));
    }
  }

  static async create(o: ClusterOptions): Promise<ChaosCluster> {
    const natsHost = o.netns?.natsHost ?? '127.0.0.1';
    const coordinatorHost = o.netns?.coordinatorHost ?? '127.0.0.1';
    const nats = await NatsServer.create(o.ctx, natsHost, join(o.dir, 'nats'));
    const clickhouse = await ClickHouseServer.create(o.ctx, join(o.dir, 'clickhouse'));
    const address = `${coordinatorHost}:${await freePort(coordinatorHost)}`;
    return new ChaosCluster(o, nats, clickhouse, address, await freePort());
  }

  private cli(name: string, args: string[], ready: RegExp, inNetns = false): Member {
    const base = { command: process.execPath, args: [CLI, ...args] };
    const spec = inNetns && this.o.netns !== undefined ? this.o.netns.exec(base.command, base.args) : base;
    const proc = new ManagedProcess({ name, ...spec }, this.o.ctx);
    return {
      proc,
      start: async () => {
        proc.start();
        await proc.waitFor(ready, 60_000);
        proc.ready = true;
      },
    };
  }

  /** Starts the servers, then the coordinator, ingesters and workers. */
  async start(): Promise<void> {
    await Promise.all([this.supervisor.up('nats'), this.supervisor.up('clickhouse')]);
    await this.supervisor.up('coordinator');
    await Promise.all(this.ingesterNames.map((n) => this.supervisor.up(n)));
    await Promise.all(this.workerNames.map((n) => this.supervisor.up(n)));
  }

  /** The order to stop in at the end: workers, ingesters, coordinator, then the servers. */
  stopOrder(): string[][] {
    return [this.workerNames, this.ingesterNames, ['coordinator'], ['nats', 'clickhouse']];
  }

  private async withClient<T>(fn: (c: SweepClient) => Promise<T>): Promise<T> {
    const c = new SweepClient({ address: this.coordinatorAddress, token: undefined, tlsCa: undefined });
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** Submits a sweep, retrying while the coordinator is down (bounded). */
  async submit(yaml: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.withClient((c) => c.submit(yaml, 'chaos.yaml'));
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(500);
      }
    }
  }

  /** The sweep's status, or undefined while the coordinator cannot answer. */
  async status(sweepId: string): Promise<SweepStatus | undefined> {
    return this.withClient((c) => c.get(sweepId)).catch(() => undefined);
  }

  /** The coordinator's Prometheus text, or undefined when it cannot be read. */
  async metrics(): Promise<string | undefined> {
    try {
      await waitHttp(this.metricsUrl, 10_000, 'coordinator metrics');
      const res = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5000) });
      return await res.text();
    } catch {
      return undefined;
    }
  }
}
