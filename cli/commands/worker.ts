import { createLogger } from '../../coordinator/index.js';
import { createNatsEventPublisher } from '../../pipeline/index.js';
import { createEngine, WorkerAgent, type ProbeSink } from '../../worker/index.js';
import { parseFlags, type Command } from '../command.js';
import { DEFAULT_COORDINATOR } from '../grpc-client.js';

const command: Command = {
  help: `Usage: phasesweep worker [--coordinator HOST:PORT] [--engine NAME] [--nats URL] [--prefix P] [--id NAME]

Connects to a coordinator and trains the trials it leases, one at a time (run one worker per
core, or per GPU). SIGTERM gives the running trial back so it is re-leased at once.
  --coordinator  coordinator address (default $PHASESWEEP_COORDINATOR or 127.0.0.1:7070)
  --engine       auto | wasm | cpu | webgpu | tensorflow | tensorflow-gpu (default auto)
  --nats         publish probe events to this NATS JetStream (cluster mode); without it, events
                 travel over the coordinator stream
  --prefix       NATS subject prefix (default phasesweep)
  --id           worker id (default host-pid)
  --quiet        log warnings and errors only`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      coordinator: { type: 'string', default: DEFAULT_COORDINATOR },
      engine: { type: 'string', default: 'auto' },
      nats: { type: 'string' },
      prefix: { type: 'string', default: 'phasesweep' },
      id: { type: 'string' },
      quiet: { type: 'boolean' },
    });
    const log = createLogger(`worker`, values.quiet ? 'warn' : 'info');
    const engine = await createEngine(values.engine);
    let sink: ProbeSink | undefined;
    if (values.nats !== undefined) {
      const publisher = await createNatsEventPublisher({ natsUrl: values.nats, prefix: values.prefix });
      sink = {
        publish: (e) => publisher.publishProbe(e),
        flush: () => publisher.flush(),
        close: () => publisher.close(),
      };
    }
    const agent = new WorkerAgent({
      coordinator: values.coordinator,
      engine,
      sink,
      log,
      workerId: values.id,
    });
    io.signal.addEventListener('abort', () => void agent.shutdown(), { once: true });
    log.info(`engine ${engine.info.engine} (${engine.info.backend}), coordinator ${values.coordinator}`);
    await agent.run();
  },
};
export default command;
