// How many copies JetStream keeps of phasesweep's streams, KV bucket and object store: 1 on a
// single server, 3 on a 3-node cluster. One setting for every process, from the environment.
import { PhasesweepError } from '../spec/errors.js';

export function parseNatsReplicas(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 5) {
    throw new PhasesweepError(
      'INVALID_ARGUMENT',
      `PHASESWEEP_NATS_REPLICAS: expected an integer from 1 to 5, got "${raw}"`,
    );
  }
  return n;
}

export const natsReplicas = (): number => parseNatsReplicas(process.env['PHASESWEEP_NATS_REPLICAS']);
