// A phasesweep cluster of real processes on the test servers: coordinator, ingester and workers
// with a private NATS prefix and ClickHouse database, plus helpers to read what they wrote.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SweepClient } from '../../cli/grpc-client.js';
import { streamNames } from '../../pipeline/index.js';
import { ProbeEvent, TrialEvent, type SweepStatus } from '../../proto/index.js';
import { startCli, type CliProcess } from './processes.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  natsUrl: string;
  clickhouseUrl: string;
  leaseTtlMs?: number;
  token?: string;
}

export class TestCluster {
  readonly id = randomBytes(4).toString('hex');
  readonly prefix = `t${this.id}`;
  readonly database = `t_${this.id}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'phasesweep-cluster-'));
  readonly procs: CliProcess[] = [];
  readonly ch: ClickHouseClient;
  address = '';
  coordinator: CliProcess | undefined;
  private tokenFile: string | undefined;

  constructor(private readonly o: ClusterOptions) {
    this.ch = createClient({ url: o.clickhouseUrl });
    if (o.token !== undefined) {
      this.tokenFile = join(this.dir, 'token');
      writeFileSync(this.tokenFile, o.token);
    }
  }

  private auth(): string[] {
    return this.tokenFile ? ['--token-file', this.tokenFile] : [];
  }

  async startCoordinator(port?: number): Promise<CliProcess> {
    const p = port ?? (await freePort());
    const args = [
      'coordinator',
      '--listen',
      `127.0.0.1:${p}`,
      '--nats',
      this.o.natsUrl,
      '--prefix',
      this.prefix,
    ];
    args.push('--lease-ttl-ms', String(this.o.leaseTtlMs ?? 3000), ...this.auth());
    const c = startCli(args);
    this.procs.push(c);
    this.address = (await c.waitFor(/listening on (\S+)/))[1]!;
    this.coordinator = c;
    return c;
  }

  startIngester(): CliProcess {
    const args = [
      'ingest',
      '--nats',
      this.o.natsUrl,
      '--clickhouse',
      this.o.clickhouseUrl,
      '--database',
      this.database,
    ];
    const p = startCli([...args, '--prefix', this.prefix]);
    this.procs.push(p);
    return p;
  }

  startWorker(id: string, extra: string[] = []): CliProcess {
    const args = [
      'worker',
      '--coordinator',
      this.address,
      '--engine',
      'wasm',
      '--nats',
      this.o.natsUrl,
      '--prefix',
      this.prefix,
    ];
    const p = startCli([...args, '--id', id, ...this.auth(), ...extra]);
    this.procs.push(p);
    return p;
  }

  client(): SweepClient {
    return new SweepClient({ address: this.address, token: this.o.token, tlsCa: undefined });
  }

  async submit(specYaml: string): Promise<void> {
    const c = this.client();
    try {
      await c.submit(specYaml, 'spec.yaml');
    } finally {
      c.close();
    }
  }

  /** Polls the sweep's status until `until` holds (coordinator restarts are retried through). */
  async waitFor(
    sweepId: string,
    until: (s: SweepStatus) => boolean,
    timeoutMs = 120_000,
  ): Promise<SweepStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: SweepStatus | undefined;
    while (Date.now() < deadline) {
      const c = this.client();
      try {
        last = await c.get(sweepId);
        if (until(last)) return last;
      } catch {
        // coordinator restarting
      } finally {
        c.close();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting on sweep ${sweepId}; last status ${JSON.stringify(last)}`);
  }

  /** Latest-attempt probe rows per (trial, epoch), once `expected` of them are queryable. */
  async probeRows(expected: number, timeoutMs = 60_000): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + timeoutMs;
    let rows: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      const rs = await this.ch
        .query({
          query: `SELECT * FROM ${this.database}.probe_events FINAL ORDER BY trial_id, epoch`,
          format: 'JSONEachRow',
        })
        .catch(() => undefined);
      rows = rs ? await rs.json<Record<string, unknown>>() : [];
      if (rows.length >= expected) return rows;
      await new Promise((r) => setTimeout(r, 300));
    }
    return rows;
  }

  /** Every trial status event in the stream, in order. */
  async trialEvents(): Promise<TrialEvent[]> {
    const msgs = await this.streamMessages();
    return msgs
      .filter((m) => m.subject.startsWith(`${this.prefix}.trials.`))
      .map((m) => TrialEvent.decode(m.data));
  }

  /** Every probe event in the stream (all attempts, nothing merged), in order. */
  async probeEvents(): Promise<ProbeEvent[]> {
    const msgs = await this.streamMessages();
    return msgs
      .filter((m) => m.subject.startsWith(`${this.prefix}.probes.`))
      .map((m) => ProbeEvent.decode(m.data));
  }

  /** The events stream in order, decoded. */
  async streamInOrder(): Promise<{ kind: 'probe' | 'trial'; probe?: ProbeEvent; trial?: TrialEvent }[]> {
    return (await this.streamMessages()).map((m) =>
      m.subject.startsWith(`${this.prefix}.trials.`)
        ? { kind: 'trial' as const, trial: TrialEvent.decode(m.data) }
        : { kind: 'probe' as const, probe: ProbeEvent.decode(m.data) },
    );
  }

  private async streamMessages(): Promise<{ subject: string; data: Uint8Array }[]> {
    const nc = await connect({ servers: this.o.natsUrl });
    try {
      const names = streamNames(this.prefix);
      const total = (await (await jetstreamManager(nc)).streams.info(names.events)).state.messages;
      const consumer = await jetstream(nc).consumers.get(names.events);
      const out: { subject: string; data: Uint8Array }[] = [];
      while (out.length < total) {
        const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
        for await (const m of batch) out.push({ subject: m.subject, data: m.data });
      }
      return out;
    } finally {
      await nc.close();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL')));
    // Every process's output, for reading after a failure.
    mkdirSync('test-output', { recursive: true });
    writeFileSync(
      join('test-output', `cluster-${this.prefix}.log`),
      this.procs.map((p) => `=== ${p.args.join(' ')}\n${p.output()}`).join('\n'),
    );
    await this.ch.command({ query: `DROP DATABASE IF EXISTS ${this.database}` }).catch(() => undefined);
    await this.ch.close();
  }
}
