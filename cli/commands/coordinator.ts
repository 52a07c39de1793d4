import {
  Coordinator,
  createCoordinatorMetrics,
  createLogger,
  liveRoutes,
  ProbeSeriesStore,
  FileStateStore,
  KvStateStore,
  type CoordinatorSinks,
  type StateStore,
} from '../../coordinator/index.js';
import { createRegistry } from '../../observability/index.js';
import {
  createNatsEventPublisher,
  tapProbeEvents,
  type EventPublisher,
  type ProbeTap,
} from '../../pipeline/index.js';
import { intFlag, parseFlags, usageError, type Command } from '../command.js';
import { DEFAULT_HTTP, HTTP_FLAG, startHttp } from '../http-flag.js';
import { readPem, tokenFrom } from '../connection-flags.js';

const command: Command = {
  help: `Usage: phasesweep coordinator [--listen HOST:PORT] [--nats URL] [--state FILE] [options]

Serves the coordinator over gRPC until SIGINT/SIGTERM. Its state (sweeps, trials, leases) is
durable: in JetStream KV with --nats, else in --state FILE; a restarted coordinator recovers it
and workers re-attach the leases they hold.
  --listen          address to listen on (default 0.0.0.0:7070; port 0 picks one, printed on start)
  --nats URL        NATS: state in KV bucket <prefix>_coordinator; trial status events (and probe
                    events streamed to the coordinator) published to JetStream for the ingester
  --prefix P        NATS subject and bucket prefix (default phasesweep)
  --state FILE      journal file for the state when there is no NATS (default: in memory only)
  --lease-ttl-ms    lease TTL; workers heartbeat every TTL/3 and lose leases after it (default 15000)
  --max-failures N  crashes a trial survives before it fails (default 3)
  --token-file F    require this bearer token from workers and clients (default $PHASESWEEP_TOKEN)
  --tls-cert F --tls-key F   serve TLS with this certificate chain and key (PEM)
  --http HOST:PORT  live page, /metrics, /healthz, /readyz (default ${DEFAULT_HTTP.coordinator}, or a
                    free port when taken; off: none). The live page shows progress per axis level;
                    probe curves for events streamed through the coordinator (workers without
                    --nats), and with --live-curves for those on NATS too
  --live-curves     with --nats: also listen to the probe events on NATS for the live page's
                    curves (every event is then decoded here as well)`,
  async run(argv, io) {
    const { values } = parseFlags(argv, {
      listen: { type: 'string', default: '0.0.0.0:7070' },
      nats: { type: 'string' },
      prefix: { type: 'string', default: 'phasesweep' },
      state: { type: 'string' },
      'lease-ttl-ms': { type: 'string' },
      'max-failures': { type: 'string' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      ...HTTP_FLAG,
      'live-curves': { type: 'boolean' },
    });
    if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
      throw usageError('--tls-cert and --tls-key go together');
    }
    if (values['live-curves'] === true && values.nats === undefined) {
      throw usageError('--live-curves needs --nats');
    }
    const log = createLogger('coordinator');
    const registry = createRegistry('coordinator');
    const metrics = createCoordinatorMetrics(registry);
    // Probe events that workers stream to the coordinator (no NATS on their side) feed the live page.
    const series = new ProbeSeriesStore();
    let sinks: CoordinatorSinks | undefined;
    let publisher: EventPublisher | undefined;
    let stateStore: StateStore | undefined;
    let tap: ProbeTap | undefined;
    if (values.nats !== undefined) {
      if (values['live-curves'] === true) {
        tap = await tapProbeEvents({
          natsUrl: values.nats,
          prefix: values.prefix,
          onEvents: (e) => series.add(e),
        });
      }
      publisher = await createNatsEventPublisher({ natsUrl: values.nats, prefix: values.prefix });
      const p = publisher;
      sinks = {
        probes: async (events) => {
          for (const e of events) await p.publishProbe(e);
        },
        trial: (e) => p.publishTrial(e),
      };
      stateStore = await KvStateStore.open(values.nats, `${values.prefix}_coordinator`);
    } else if (values.state !== undefined) {
      stateStore = new FileStateStore(values.state);
    }
    const downstream = sinks;
    sinks = {
      probes: (events) => {
        series.add(events);
        return downstream?.probes(events) ?? Promise.resolve();
      },
      trial: (e) => downstream?.trial(e) ?? Promise.resolve(),
    };
    const coordinator = await Coordinator.create({
      listen: values.listen,
      leaseTtlMs: intFlag('lease-ttl-ms', values['lease-ttl-ms'], 15_000, 100),
      maxFailures: intFlag('max-failures', values['max-failures'], 3, 1),
      sinks,
      stateStore,
      authToken: tokenFrom(values['token-file']),
      tls:
        values['tls-cert'] && values['tls-key']
          ? { cert: readPem('tls-cert', values['tls-cert']), key: readPem('tls-key', values['tls-key']) }
          : undefined,
      log,
      onTrialEvent: metrics.onTrialEvent,
    });
    metrics.observe(coordinator);
    const http = await startHttp(values.http, DEFAULT_HTTP.coordinator, {
      registry,
      notReady: () => (coordinator.state === 'running' ? undefined : coordinator.state),
      routes: [liveRoutes({ scheduler: coordinator.scheduler, store: series })],
      onFallback: (wanted, got) => log.warn(`--http: ${wanted} is taken; serving on ${got}`),
    });
    io.stdout.write(`coordinator listening on ${coordinator.address}\n`);
    if (http !== undefined) io.stdout.write(`live page and metrics on ${http.url}/\n`);
    io.signal.addEventListener('abort', () => void coordinator.shutdown(), { once: true });
    await coordinator.run();
    await http?.close();
    await tap?.close();
    if (publisher) {
      await publisher.flush();
      await publisher.close();
    }
  },
};
export default command;
