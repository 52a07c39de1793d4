import { parseFlags, type Command } from '../command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFrom } from '../connection-flags.js';
import { table } from '../format.js';
import { SweepClient } from '../grpc-client.js';
import { counts } from './render.js';

const command: Command = {
  help: `Usage: phasesweep sweep list [--json] [connection flags]

Lists the coordinator's sweeps with their progress.
${CONNECTION_HELP}`,
  async run(argv, io) {
    const { values } = parseFlags(argv, { ...CONNECTION_FLAGS, json: { type: 'boolean' } });
    const client = new SweepClient(connectionFrom(values));
    try {
      const { sweeps } = await client.list();
      if (values.json) io.stdout.write(JSON.stringify(sweeps) + '\n');
      else if (sweeps.length === 0) io.stdout.write('no sweeps\n');
      else
        io.stdout.write(
          table(
            ['sweep', 'state', 'priority', 'trials', 'epochs', 'by state'],
            sweeps.map((s) => [
              s.sweep_id,
              s.state,
              s.priority,
              s.trials_total,
              `${s.epochs_done}/${s.epochs_total}`,
              counts(s),
            ]),
          ),
        );
    } finally {
      client.close();
    }
  },
};
export default command;
