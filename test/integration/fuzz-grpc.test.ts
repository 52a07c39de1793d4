// Hostile input on the coordinator's real gRPC socket: random bytes, truncated and mutated
// protobuf, well-formed messages with nonsense in them, and oversized requests, on the worker
// stream and on every SweepService method. Each call ends with an answer or an error status, and
// afterwards the coordinator still serves a normal client and has leased or stored nothing.
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SweepClient } from '../../cli/grpc-client.js';
import { Coordinator, silentLogger } from '../../coordinator/index.js';
import { WorkerMessage, type ProbeEvent } from '../../proto/index.js';

const UNARY = ['SubmitSweep', 'GetSweep', 'ListSweeps', 'CancelSweep', 'RetrySweep'] as const;
const identity = (b: Buffer) => b;

let coordinator: Coordinator;
let raw: Client;
const stored: ProbeEvent[] = [];

beforeAll(async () => {
  coordinator = await Coordinator.create({
    listen: '127.0.0.1:0',
    log: silentLogger,
    sinks: {
      probes: (e) => {
        stored.push(...e);
        return Promise.resolve();
      },
      trial: () => Promise.resolve(),
    },
  });
  void coordinator.run();
  raw = new Client(coordinator.address, credentials.createInsecure());
});

afterAll(async () => {
  raw.close();
  await coordinator.shutdown(1000);
});

function unary(method: string, body: Uint8Array): Promise<{ code: status; details: string }> {
  return new Promise((resolve) => {
    raw.makeUnaryRequest(
      `/phasesweep.v1.SweepService/${method}`,
      identity,
      identity,
      Buffer.from(body),
      new Metadata(),
      { deadline: new Date(Date.now() + 10_000) },
      (err: ServiceError | null) =>
        resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: '' }),
    );
  });
}

/** Writes the frames on one worker stream, half-closes it, and resolves when the call ends. */
function stream(frames: Uint8Array[]): Promise<void> {
  return new Promise((resolve) => {
    const call = raw.makeBidiStreamRequest(
      '/phasesweep.v1.WorkerGateway/Connect',
      identity,
      identity,
      new Metadata(),
      { deadline: new Date(Date.now() + 10_000) },
    );
    call.on('data', () => undefined);
    call.on('error', () => resolve());
    call.on('end', () => resolve());
    call.on('status', () => resolve());
    for (const f of frames) call.write(Buffer.from(f));
    call.end();
  });
}

const validFrames = [
  WorkerMessage.encode(
    WorkerMessage.fromPartial({ hello: { worker_id: 'fuzz', slots: 1, event_sink: 'coordinator' } }),
  ).finish(),
  WorkerMessage.encode(WorkerMessage.fromPartial({ request: { count: 3 } })).finish(),
  WorkerMessage.encode(
    WorkerMessage.fromPartial({
      heartbeat: {
        leases: [{ trial_id: 't', token: 'forged', epoch: 4, checkpoint_ref: 'x', checkpoint_epochs: 9 }],
      },
    }),
  ).finish(),
  WorkerMessage.encode(
    WorkerMessage.fromPartial({
      events: {
        events: [{ sweep_id: 's', trial_id: 't', attempt: 1, epoch: 0, loss: 1, scalars: { a: 1 } }],
      },
    }),
  ).finish(),
  WorkerMessage.encode(
    WorkerMessage.fromPartial({ result: { trial_id: 't', token: 'forged', outcome: 1 } }),
  ).finish(),
];

/** A valid frame cut short, with bytes flipped, or with junk appended. */
const mutated = fc
  .tuple(
    fc.constantFrom(...validFrames),
    fc.nat(),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.uint8Array({ maxLength: 16 }),
  )
  .map(([frame, cut, flips, tail]) => {
    const out = Uint8Array.from(frame.subarray(0, frame.length === 0 ? 0 : cut % (frame.length + 1)));
    for (const [i, v] of flips) if (out.length > 0) out[i % out.length] = v;
    return Uint8Array.from([...out, ...tail]);
  });

const hostileMessage = fc
  .record({
    hello: fc.record({ worker_id: fc.string({ maxLength: 300 }), slots: fc.nat(), event_sink: fc.string() }),
    heartbeat: fc.record({
      leases: fc.array(
        fc.record({
          trial_id: fc.string(),
          token: fc.string(),
          epoch: fc.nat(),
          checkpoint_ref: fc.string(),
          checkpoint_epochs: fc.nat(),
        }),
        { maxLength: 5 },
      ),
    }),
    events: fc.record({
      events: fc.array(
        fc.record({
          sweep_id: fc.string(),
          trial_id: fc.string(),
          attempt: fc.nat(),
          epoch: fc.nat(),
          loss: fc.double(),
          scalars: fc.dictionary(fc.string({ maxLength: 20 }), fc.double(), { maxKeys: 4 }),
        }),
        { maxLength: 5 },
      ),
    }),
  })
  .map((m) => WorkerMessage.encode(WorkerMessage.fromPartial(m)).finish());

describe('hostile gRPC input', () => {
  it('answers random and mangled unary requests with a status and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...UNARY),
        fc.oneof(fc.uint8Array({ maxLength: 512 }), mutated),
        async (method, body) => {
          const { code, details } = await unary(method, body);
          // Undecodable bytes are refused by the gRPC layer itself (INTERNAL, "Error deserializing
          // request"); decodable nonsense gets the service's own INVALID_ARGUMENT or NOT_FOUND.
          if (code === status.INTERNAL) expect(details).toMatch(/^Error deserializing request/);
          else expect([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND]).toContain(code);
        },
      ),
      { numRuns: 150, seed: 13 },
    );
    const client = new SweepClient({ address: coordinator.address, token: undefined, tlsCa: undefined });
    try {
      await client.submit('name: after-fuzz\nseeds: 1\nbase: { train: { epochs: 1 } }', 'spec.yaml');
      expect((await client.list()).sweeps.map((s) => s.name)).toContain('after-fuzz');
      // Nothing left to lease to the junk streams of the next test.
      await client.cancel('after-fuzz');
    } finally {
      client.close();
    }
  });

  it('ends worker streams carrying junk without leasing, storing or crashing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 256 }), mutated, hostileMessage), {
          minLength: 1,
          maxLength: 6,
        }),
        async (frames) => {
          await stream(frames);
        },
      ),
      { numRuns: 120, seed: 14 },
    );
    expect(stored).toHaveLength(0);
    expect(coordinator.state).toBe('running');
    expect(coordinator.scheduler.leases.size).toBe(0);
  });

  it('refuses requests over the 4 MiB message limit with RESOURCE_EXHAUSTED', async () => {
    const big = new Uint8Array(5 * 1024 * 1024).fill(0x41);
    expect((await unary('SubmitSweep', big)).code).toBe(status.RESOURCE_EXHAUSTED);
    const client = new SweepClient({ address: coordinator.address, token: undefined, tlsCa: undefined });
    try {
      expect((await client.list()).sweeps.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });
});
