import { Coordinator, createLogger, type CoordinatorSinks } from '../../coordinator/index.js';
import { createNatsEventPublisher } from '../../pipeline/index.js';
import { intFlag, parseFlags, type Command } from '../command.js';

const command: Command = {
  help: `Usage: phasesweep coordinator [--listen HOST:PORT] [--nats URL] [--prefix P] [--lease-ttl-ms MS]

Serves the coordinator over gRPC until SIGINT/SIGTERM.
  --listen        address to listen on (default 0.0.0.0:7070; port 0 picks one, printed on start)
  --nats          NATS URL: trial status events (and probe events streamed to the coordinator)
                  are published to JetStream for the ingester
  --prefix        NATS subject prefix (default phasesweep)
  --lease-ttl-ms  lease TTL; workers heartbeat every TTL/3 (default 15000)`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      listen: { type: 'string', default: '0.0.0.0:7070' },
      nats: { type: 'string' },
      prefix: { type: 'string', default: 'phasesweep' },
      'lease-ttl-ms': { type: 'string' },
    });
    const log = createLogger('coordinator');
    let sinks: CoordinatorSinks | undefined;
    let publisher: Awaited<ReturnType<typeof createNatsEventPublisher>> | undefined;
    if (values.nats !== undefined) {
      publisher = await createNatsEventPublisher({ natsUrl: values.nats, prefix: values.prefix });
      const p = publisher;
      sinks = {
        probes: async (events) => {
          for (const e of events) await p.publishProbe(e);
        },
        trial: (e) => p.publishTrial(e),
      };
    }
    const coordinator = await Coordinator.create({
      listen: values.listen,
      leaseTtlMs: intFlag('lease-ttl-ms', values['lease-ttl-ms'], 15_000, 100),
      sinks,
      log,
    });
    io.stdout.write(`coordinator listening on ${coordinator.address}\n`);
    io.signal.addEventListener('abort', () => void coordinator.shutdown(), { once: true });
    await coordinator.run();
    if (publisher) {
      await publisher.flush();
      await publisher.close();
    }
  },
};
export default command;
