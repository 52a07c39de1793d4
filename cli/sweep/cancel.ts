import { parseFlags, usageError, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { SweepClient } from '../grpc-client.js';

const command: Command = {
  help: `Usage: phasesweep sweep cancel SWEEP [--json] [connection flags]

Cancels a sweep: pending trials are cancelled at once, running ones are stopped through their
next heartbeat. \`sweep retry\` brings them back.
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { ...CONNECTION_FLAGS, json: { type: 'boolean' } });
    const sweepId = positionals[0];
    if (sweepId === undefined) throw usageError('sweep cancel: missing SWEEP');
    const client = new SweepClient(connectionFrom(values));
    try {
      const r = await client.cancel(sweepId);
      io.stdout.write(
        values.json
          ? JSON.stringify(r) + '\n'
          : `sweep ${sweepId}: ${r.cancelled} pending trials cancelled\n`,
      );
    } finally {
      client.close();
    }
  },
};
export default command;
