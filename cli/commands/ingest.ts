// `phasesweep ingest`: runs the NATS → ClickHouse ingester until interrupted.
import { createIngester } from '../../pipeline/index.js';
import { EXIT, intFlag, parseFlags, usageError, type Command } from '../command.js';

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
  --batch-size    events per insert (default 10000)
  --batch-delay   longest wait for a batch to fill, ms (default 200)
  --format        RowBinary | JSONEachRow (default RowBinary)`,
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
    const ingester = await createIngester({
      natsUrl: values.nats,
      clickhouseUrl: values.clickhouse,
      database: values.database,
      prefix: values.prefix,
      batchSize: intFlag('batch-size', values['batch-size'], 10_000, 1),
      batchDelayMs: intFlag('batch-delay', values['batch-delay'], 200, 1),
      insertFormat: values.format,
      signal: io.signal,
      log,
    });
    const report = setInterval(() => {
      const s = ingester.stats;
      log(`ingest: ${s.ingested} events in ${s.batches} batches, ${s.deadLettered} dead-lettered`);
    }, 30_000);
    report.unref();
    try {
      await ingester.run();
    } finally {
      clearInterval(report);
    }
    const s = ingester.stats;
    io.stdout.write(
      `${JSON.stringify({ ingested: s.ingested, batches: s.batches, dead_lettered: s.deadLettered, fenced: s.fenced })}\n`,
    );
    return EXIT.ok;
  },
};
export default command;
