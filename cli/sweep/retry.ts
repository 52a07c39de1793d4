import { parseFlags, usageError, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { SweepClient } from '../grpc-client.js';

const command: Command = {
  help: `Usage: phasesweep sweep retry SWEEP [--json] [connection flags]

Makes a sweep's failed and cancelled trials pending again, with their failure counts reset.
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { ...CONNECTION_FLAGS, json: { type: 'boolean' } });
    const sweepId = positionals[0];
    if (sweepId === undefined) throw usageError('sweep retry: missing SWEEP');
    const client = new SweepClient(connectionFrom(values));
    try {
      const r = await client.retry(sweepId);
      io.stdout.write(
        values.json ? JSON.stringify(r) + '\n' : `sweep ${sweepId}: ${r.retried} trials pending again\n`,
      );
    } finally {
      client.close();
    }
  },
};
export default command;
