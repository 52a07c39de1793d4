import { createLogger } from '../../coordinator/index.js';
import { createRegistry } from '../../observability/index.js';
import { createNatsEventPublisher } from '../../pipeline/index.js';
import {
  chooseCudaDevices,
  createEngine,
  createWorkerMetrics,
  describeDevices,
  DirCheckpointStore,
  gpuSelectionFromEnv,
  NatsCheckpointStore,
  parseGpuSelection,
  webgpuDevices,
  WorkerAgent,
  type CheckpointStore,
  type ProbeSink,
} from '../../worker/index.js';
import { intFlag, parseFlags, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { HTTP_FLAG, startHttp } from '../http-flag.js';

const command: Command = {
  help: `Usage: phasesweep worker [--coordinator HOST:PORT] [--engine NAME] [--nats URL] [options]

Connects to a coordinator and trains the trials it leases: one at a time on a CPU (run one
worker per core), one per GPU on a GPU machine. Reconnects with backoff and re-attaches its
leases when the coordinator restarts. SIGTERM gives the running trials back so they are
re-leased at once.
  --engine NAME          auto | wasm | cpu | webgpu | tensorflow | tensorflow-gpu (default auto)
  --gpus LIST|none|auto  CUDA GPUs to offer, by nvidia-smi index (e.g. 0,1); none: CPU only
                         (default auto: every GPU nvidia-smi, or torch in python3, lists; or
                         those in CUDA_VISIBLE_DEVICES when it is set). A trial whose config asks
                         for resources.gpu = k is leased only with k of them free
  --trials-per-gpu N     trials sharing one GPU (default 1)
  --slots N              trials trained at once (default GPUs × --trials-per-gpu with GPUs, else
                         1); trials on the built-in engine share this process's one thread, so
                         they run one at a time unless --slots is given
  --nats URL             publish probe events to JetStream (cluster mode) and keep checkpoints in
                         its object store <prefix>_checkpoints; without it, events travel over the
                         coordinator stream
  --prefix P             NATS subject and bucket prefix (default phasesweep)
  --checkpoint-dir DIR   keep checkpoints in DIR instead (a directory all workers share)
  --checkpoint-every K   checkpoint every K epochs (default 10)
  --prefetch N|auto      leases held ready beside the running ones (default auto: one while
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
      gpus: { type: 'string' },
      'trials-per-gpu': { type: 'string' },
      slots: { type: 'string' },
      quiet: { type: 'boolean' },
      ...HTTP_FLAG,
    });
    const log = createLogger(`worker`, values.quiet ? 'warn' : 'info');
    const connection = connectionFrom(values);
    const trialsPerGpu = intFlag('trials-per-gpu', values['trials-per-gpu'], 1, 1);
    const slotsFlag = values.slots === undefined ? undefined : intFlag('slots', values.slots, 1, 1);
    // A bad --gpus is a PhasesweepError('INVALID_ARGUMENT'): exit code 2, like any usage error.
    const fromEnv = gpuSelectionFromEnv();
    const selection = values.gpus === undefined ? fromEnv.selection : parseGpuSelection(values.gpus);
    if (values.gpus === undefined && fromEnv.note) log.info(`GPUs from ${fromEnv.note}`);
    const engine = await createEngine(values.engine);
    const cuda = await chooseCudaDevices(selection);
    if (cuda.note) log.info(`GPU detection: ${cuda.note}`);
    const gpus = cuda.devices.length;
    const devices = [...cuda.devices, ...(selection.kind === 'none' ? [] : await webgpuDevices(engine))];
    const slots = slotsFlag ?? (gpus > 0 ? gpus * trialsPerGpu : 1);
    if (gpus === 0 && values['trials-per-gpu'] !== undefined)
      log.warn('--trials-per-gpu has no effect: this worker has no GPU');
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
      slots,
      builtinSlots: slotsFlag ?? 1,
      devices,
      trialsPerGpu,
      observer: metrics,
    });
    io.signal.addEventListener('abort', () => void agent.shutdown(), { once: true });
    log.info(`engine ${engine.info.engine} (${engine.info.backend}), coordinator ${connection.address}`);
    log.info(
      devices.length > 0
        ? `devices ${describeDevices(devices)}; ${slots} slots (${trialsPerGpu} trials per GPU)`
        : `no GPUs; ${slots} slot${slots === 1 ? '' : 's'}`,
    );
    await agent.run();
    await http?.close();
    await checkpoints?.close();
  },
};
export default command;
