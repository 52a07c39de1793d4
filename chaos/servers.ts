// The run's own nats-server (JetStream, file store) and clickhouse-server, each on fixed ports
// and a data dir of the run, so that a kill and a start again come back on the same port with
// the same data: what a restarted server looks like to its clients.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ManagedProcess, type ProcessContext } from './processes.js';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Polls `url` until it answers 2xx, or throws after `timeoutMs`. */
export async function waitHttp(url: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms`);
}

/** A server the faults restart: kill, stay down, start again on the same ports and data. */
export interface RestartableServer {
  readonly proc: ManagedProcess;
  start(): Promise<void>;
  kill(): Promise<void>;
}

export class NatsServer implements RestartableServer {
  readonly proc: ManagedProcess;
  readonly url: string;
  private readonly monitor: string;

  private constructor(ctx: ProcessContext, host: string, port: number, monitorPort: number, dir: string) {
    mkdirSync(dir, { recursive: true });
    this.url = `nats://${host}:${port}`;
    this.monitor = `http://${host}:${monitorPort}`;
    this.proc = new ManagedProcess(
      {
        name: 'nats',
        command: 'nats-server',
        args: ['-a', host, '-p', String(port), '-m', String(monitorPort), '-js', '-sd', dir],
      },
      ctx,
    );
  }

  static async create(ctx: ProcessContext, host: string, dir: string): Promise<NatsServer> {
    return new NatsServer(ctx, host, await freePort(host), await freePort(host), dir);
  }

  async start(): Promise<void> {
    this.proc.start();
    await waitHttp(`${this.monitor}/healthz?js-enabled-only=true`, 15_000, 'nats-server');
    this.proc.ready = true;
  }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.proc.exited;
  }
}

export class ClickHouseServer implements RestartableServer {
  readonly proc: ManagedProcess;
  readonly url: string;

  private constructor(ctx: ProcessContext, httpPort: number, tcpPort: number, dir: string) {
    this.url = `http://127.0.0.1:${httpPort}`;
    writeClickHouseConfig(dir, httpPort, tcpPort);
    this.proc = new ManagedProcess(
      {
        name: 'clickhouse',
        command: '/usr/sbin/clickhouse-server',
        args: [`--config-file=${join(dir, 'config.xml')}`],
      },
      ctx,
    );
  }

  static async create(ctx: ProcessContext, dir: string): Promise<ClickHouseServer> {
    return new ClickHouseServer(ctx, await freePort(), await freePort(), dir);
  }

  async start(): Promise<void> {
    this.proc.start();
    await waitHttp(`${this.url}/ping`, 30_000, 'clickhouse-server');
    this.proc.ready = true;
  }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.proc.exited;
  }
}

/** The same configuration scripts/services.sh writes: loopback only, everything under `dir`. */
function writeClickHouseConfig(dir: string, httpPort: number, tcpPort: number): void {
  for (const d of ['data', 'tmp', 'user_files', 'log']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`,
  );
}
