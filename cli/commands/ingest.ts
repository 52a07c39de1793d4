// `phasesweep ingest`: runs the NATS → ClickHouse ingester until interrupted.
import { createRegistry } from '../../observability/index.js';
import { createIngester, createIngestMetrics, INGEST_DEFAULTS } from '../../pipeline/index.js';
import { EXIT, intFlag, parseFlags, usageError, type Command } from '../command.js';
import { DEFAULT_HTTP, HTTP_FLAG, startHttp } from '../http-flag.js';

const command: Command = {
  help: `Usage: phasesweep ingest --nats URL --clickhouse URL --database DB [--prefix P]

Moves probe and trial events from NATS JetStream into ClickHouse. Creates the streams, the
durable consumer and the tables (versioned migrations) when missing. Several ingesters may share
one prefix: they split the work. Messages are acknowledged only once ClickHouse has them;
undecodable ones go to <prefix>.deadletter.>. SIGINT/SIGTERM drain in-flight batches and exit.
  --nats          NATS server URL (nats://host:4222)
  --clickhouse    ClickHouse HTTP URL (http://host:8123)
  --database      ClickHouse database (created if missing)
  --prefix        subject prefix (default phasesweep)
  --batch-size    events per insert (default 100000)
  --batch-delay   longest wait for a batch to fill, ms (default 250)
  --format        RowBinary | JSONEachRow (default RowBinary)
  --http          /metrics, /healthz, /readyz on HOST:PORT (default ${DEFAULT_HTTP.ingest}, or a free
                  port when taken; off: none)`,
  async run(argv, io) {
    const { values } = parseFlags(
      argv,
      {
        nats: { type: 'string' },
        clickhouse: { type: 'string' },
        database: { type: 'string' },
        prefix: { type: 'string', default: 'phasesweep' },
        'batch-size': { type: 'string' },
        'batch-delay': { type: 'string' },
        format: { type: 'string', default: 'RowBinary' },
        ...HTTP_FLAG,
      },
      false,
    );
    if (values.nats === undefined) throw usageError('--nats is required');
    if (values.clickhouse === undefined) throw usageError('--clickhouse is required');
    if (values.database === undefined) throw usageError('--database is required');
    if (values.format !== 'RowBinary' && values.format !== 'JSONEachRow') {
      throw usageError(`--format: expected RowBinary or JSONEachRow, got "${values.format}"`);
    }
    const log = (line: string) => void io.stderr.write(`${line}\n`);
    const registry = createRegistry('ingest');
    const metrics = createIngestMetrics(registry);
    const ingester = await createIngester({
      natsUrl: values.nats,
      clickhouseUrl: values.clickhouse,
      database: values.database,
      prefix: values.prefix,
      batchSize: intFlag('batch-size', values['batch-size'], INGEST_DEFAULTS.batchSize, 1),
      batchDelayMs: intFlag('batch-delay', values['batch-delay'], INGEST_DEFAULTS.batchDelayMs, 1),
      insertFormat: values.format,
      signal: io.signal,
      log,
      onBatch: metrics.onBatch,
    });
    metrics.observe(ingester);
    // Ready once NATS, the streams and the consumer are set up (createIngester did that).
    let running = true;
    const http = await startHttp(values.http, DEFAULT_HTTP.ingest, {
      registry,
      notReady: () => (running ? undefined : 'draining'),
      onFallback: (wanted, got) => log(`ingest: --http ${wanted} is taken; serving on ${got}`),
    });
    if (http !== undefined) log(`ingest: metrics on ${http.url}/metrics`);
    const report = setInterval(() => {
      const s = ingester.stats;
      log(`ingest: ${s.ingested} events in ${s.batches} batches, ${s.deadLettered} dead-lettered`);
    }, 30_000);
    report.unref();
    try {
      await ingester.run();
    } finally {
      running = false;
      clearInterval(report);
      await http?.close();
    }
    const s = ingester.stats;
    io.stdout.write(
      `${JSON.stringify({ ingested: s.ingested, batches: s.batches, dead_lettered: s.deadLettered, fenced: s.fenced })}\n`,
    );
    return EXIT.ok;
  },
};
export default command;
