import { createLogger } from '../../coordinator/index.js';
import { createRegistry } from '../../observability/index.js';
import { createNatsEventPublisher } from '../../pipeline/index.js';
import {
  createEngine,
  createWorkerMetrics,
  DirCheckpointStore,
  NatsCheckpointStore,
  WorkerAgent,
  type CheckpointStore,
  type ProbeSink,
} from '../../worker/index.js';
import { intFlag, parseFlags, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { HTTP_FLAG, startHttp } from '../http-flag.js';

const command: Command = {
  help: `Usage: phasesweep worker [--coordinator HOST:PORT] [--engine NAME] [--nats URL] [options]

Connects to a coordinator and trains the trials it leases, one at a time (run one worker per
core, or per GPU). Reconnects with backoff and re-attaches its lease when the coordinator
restarts. SIGTERM gives the running trial back so it is re-leased at once.
  --engine NAME          auto | wasm | cpu | webgpu | tensorflow | tensorflow-gpu (default auto)
  --nats URL             publish probe events to JetStream (cluster mode) and keep checkpoints in
                         its object store <prefix>_checkpoints; without it, events travel over the
                         coordinator stream
  --prefix P             NATS subject and bucket prefix (default phasesweep)
  --checkpoint-dir DIR   keep checkpoints in DIR instead (a directory all workers share)
  --checkpoint-every K   checkpoint every K epochs (default 10)
  --prefetch N|auto      leases held ready beside the running one (default auto: one while
                         trials take under 30 s, none for longer ones)
  --id NAME              worker id (default host-pid); stable ids let a worker re-attach
  --quiet                log warnings and errors only
  --http HOST:PORT       serve /metrics, /healthz, /readyz (ready = connected to the coordinator);
                         default off, since several workers often share a host (e.g. 0.0.0.0:7073)
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      ...CONNECTION_FLAGS,
      engine: { type: 'string', default: 'auto' },
      nats: { type: 'string' },
      prefix: { type: 'string', default: 'phasesweep' },
      'checkpoint-dir': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      id: { type: 'string' },
      prefetch: { type: 'string', default: 'auto' },
      quiet: { type: 'boolean' },
      ...HTTP_FLAG,
    });
    const log = createLogger(`worker`, values.quiet ? 'warn' : 'info');
    const connection = connectionFrom(values);
    const engine = await createEngine(values.engine);
    const registry = createRegistry('worker');
    const metrics = createWorkerMetrics(registry);
    const http = await startHttp(values.http, undefined, {
      registry,
      notReady: () => (metrics.isConnected ? undefined : 'not connected to the coordinator'),
    });
    if (http !== undefined) log.info(`metrics on ${http.url}/metrics`);
    let sink: ProbeSink | undefined;
    let checkpoints: CheckpointStore | undefined;
    if (values['checkpoint-dir'] !== undefined)
      checkpoints = new DirCheckpointStore(values['checkpoint-dir']);
    if (values.nats !== undefined) {
      const publisher = await createNatsEventPublisher({ natsUrl: values.nats, prefix: values.prefix });
      sink = {
        publish: (e) => publisher.publishProbe(e),
        flush: () => publisher.flush(),
        close: () => publisher.close(),
      };
      checkpoints ??= await NatsCheckpointStore.open(values.nats, `${values.prefix}_checkpoints`);
    }
    const agent = new WorkerAgent({
      coordinator: connection.address,
      authToken: connection.token,
      tlsCa: connection.tlsCa,
      engine,
      sink,
      checkpoints,
      checkpointEvery: intFlag('checkpoint-every', values['checkpoint-every'], 10, 1),
      log,
      workerId: values.id,
      prefetch: values.prefetch === 'auto' ? 'auto' : intFlag('prefetch', values.prefetch, 0, 0),
      observer: metrics,
    });
    io.signal.addEventListener('abort', () => void agent.shutdown(), { once: true });
    log.info(`engine ${engine.info.engine} (${engine.info.backend}), coordinator ${connection.address}`);
    await agent.run();
    await http?.close();
    await checkpoints?.close();
  },
};
export default command;
